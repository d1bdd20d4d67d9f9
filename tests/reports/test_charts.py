"""The SVG chart functions: round axis tops, percentiles, escaped labels, accessible names."""

from datetime import date

import pytest

from portal.reports import charts
from portal.reports.dashboards import percentile


@pytest.mark.parametrize("value, top", [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (180, 200), (0.3, 0.5)])
def test_axis_tops_are_round_numbers_at_or_above_the_largest_value(value, top):
    assert charts.nice_ceiling(value) == pytest.approx(top)


def test_percentiles_interpolate_between_ranks():
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(37.0)


def test_labels_are_escaped_and_the_chart_is_a_named_image():
    svg = charts.bar_chart([("<b>Helped</b> & more", 3)], chart_id="c", title="Outcomes", desc="By outcome")
    assert "<b>" not in svg and "&lt;b&gt;Helped&lt;/b&gt; &amp; more" in svg
    assert 'role="img"' in svg and 'aria-labelledby="c-title"' in svg and 'aria-describedby="c-desc"' in svg
    assert '<title id="c-title">Outcomes</title>' in svg


def test_a_missing_day_breaks_the_line_and_a_lone_day_is_a_dot():
    days = [date(2030, 1, d) for d in range(1, 6)]
    svg = charts.line_chart(days, [("Median", "median", {days[0]: 1, days[1]: 2, days[3]: 4})],
                            chart_id="w", title="Waiting", desc="d", unit="minutes")
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1


def test_an_empty_period_still_draws_axes():
    svg = charts.column_chart([(date(2030, 1, 1), 0)], chart_id="r", title="Referrals", desc="d", unit="referrals")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and 'class="grid"' in svg
