"""Small server-rendered SVG charts: columns by day, lines by day, horizontal bars by category.

Each chart is an accessible image (role="img", <title> and <desc> named by aria-labelledby); the
numbers themselves are always in a table beside it (templates/reports/dashboard.html). Colours and
type sizes come from classes in portal.css, so the CSP needs no inline styles.
"""

import math
from datetime import date

from markupsafe import Markup, escape

# A narrow canvas with large type: scaled down to a 390 px phone, the labels stay readable.
WIDTH, HEIGHT = 480, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 40, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value`, so axis labels are round numbers."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value:,.0f}"


def _open(chart_id: str, title: str, desc: str, height: int = HEIGHT) -> list[str]:
    return [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" focusable="false" '
            f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>']


def _y_axis(top_value: float, unit: str) -> list[str]:
    parts = []
    for fraction in (0, 0.5, 1):
        y = TOP + PLOT_H - fraction * PLOT_H
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_number(top_value * fraction)}</text>')
    parts.append(f'<text class="axis" x="4" y="18">{escape(unit)}</text>')
    return parts


def _x_labels(days: list[date]) -> list[str]:
    if not days:
        return []
    step = PLOT_W / len(days)
    picks = sorted({0, len(days) // 2, len(days) - 1})
    anchors = {0: "start", len(days) - 1: "end"}
    return [f'<text class="axis" x="{LEFT + step * i + step / 2:.1f}" y="{HEIGHT - 10}" '
            f'text-anchor="{anchors.get(i, "middle")}">{days[i].strftime("%d %b")}</text>' for i in picks]


def column_chart(points: list[tuple[date, float]], *, chart_id: str, title: str, desc: str, unit: str) -> Markup:
    """One column per day."""
    top_value = nice_ceiling(max((v for _, v in points), default=0))
    step = PLOT_W / max(len(points), 1)
    parts = _open(chart_id, title, desc) + _y_axis(top_value, unit)
    for i, (_day, value) in enumerate(points):
        h = value / top_value * PLOT_H
        parts.append(f'<rect class="bar" x="{LEFT + i * step + step * 0.1:.1f}" y="{TOP + PLOT_H - h:.1f}" '
                     f'width="{max(step * 0.8, 0.5):.1f}" height="{h:.1f}"/>')
    parts += _x_labels([d for d, _ in points]) + ["</svg>"]
    return Markup("".join(parts))


def line_chart(days: list[date], series: list[tuple[str, str, dict[date, float]]], *, chart_id: str, title: str,
               desc: str, unit: str) -> Markup:
    """One line per series over the days; a day without a value breaks the line. Series are
    (name, css class, {day: value})."""
    top_value = nice_ceiling(max((v for _, _, values in series for v in values.values()), default=0))
    step = PLOT_W / max(len(days), 1)
    parts = _open(chart_id, title, desc) + _y_axis(top_value, unit)
    for n, (name, css, values) in enumerate(series):
        runs, run = [], []
        for i, day in enumerate(days):
            if day not in values:
                runs, run = runs + [run] if run else runs, []
                continue
            run.append((LEFT + step * i + step / 2, TOP + PLOT_H - values[day] / top_value * PLOT_H))
        runs += [run] if run else []
        for run in runs:
            if len(run) == 1:
                parts.append(f'<circle class="line {css}" cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="3"/>')
            else:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline class="line {css}" points="{points}"/>')
        x = LEFT + 70 + n * 130
        parts.append(f'<line class="line {css}" x1="{x}" x2="{x + 18}" y1="12" y2="12"/>'
                     f'<text class="legend" x="{x + 24}" y="18">{escape(name)}</text>')
    parts += _x_labels(days) + ["</svg>"]
    return Markup("".join(parts))


def bar_chart(bars: list[tuple[str, float]], *, chart_id: str, title: str, desc: str) -> Markup:
    """Horizontal bars, one per category, labelled on the left and with the value at the end."""
    label_w, row_h = 214, 32
    height = 8 + row_h * max(len(bars), 1) + 8
    top_value = nice_ceiling(max((v for _, v in bars), default=0))
    usable = WIDTH - label_w - RIGHT - 44
    parts = _open(chart_id, title, desc, height)
    for i, (label, value) in enumerate(bars):
        y = 8 + i * row_h
        w = value / top_value * usable
        parts.append(f'<text class="axis" x="{label_w - 8}" y="{y + 21}" text-anchor="end">{escape(label)}</text>'
                     f'<rect class="bar" x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}"/>'
                     f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 21}">{_number(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
