"""What a person needs from every page, checked the same way everywhere: axe-core (every rule, every
impact), the browser console, no sideways scrolling on a phone, and a focus indicator that can be seen.
"""

from axe_playwright_python.sync_playwright import Axe

axe = Axe()

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"

# The focused element's outline, and the colour just outside it: the topmost element with a painted
# background under a point beside the element (so an absolutely placed skip link is measured against
# the header it sits on, not its parent in the DOM). Contrast as WCAG 2.2 defines it.
FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const parse = c => { const m = c.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const opaque = c => { const p = parse(c); return p.length < 4 || p[3] > 0; };
  const rect = el.getBoundingClientRect();
  const gap = parseFloat(style.outlineOffset || 0) + parseFloat(style.outlineWidth || 0) + 2;
  const x = Math.max(0, Math.min(window.innerWidth - 1, rect.left - gap));
  const y = Math.max(0, Math.min(window.innerHeight - 1, rect.top + rect.height / 2));
  let behind = getComputedStyle(document.body).backgroundColor;
  for (const under of document.elementsFromPoint(x, y)) {
    if (under === el || el.contains(under)) continue;
    const bg = getComputedStyle(under).backgroundColor;
    if (opaque(bg)) { behind = bg; break; }
  }
  const a = lum(parse(style.outlineColor)), b = lum(parse(behind));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const name = (el.getAttribute('aria-label') || el.textContent || el.name || el.id || '').trim().slice(0, 60);
  return {element: el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''), name,
          outline: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor,
          behind, ratio: Math.round(ratio * 100) / 100};
}"""


def axe_violations(page) -> list[str]:
    """Every axe-core violation on the page as it is now, one line each (rule, impact, first nodes)."""
    results = axe.run(page)
    return [f"{v['id']} ({v.get('impact')}): {v['help']} {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]]


def sideways_overflow(page) -> int:
    """CSS pixels the page scrolls sideways (0 is what a phone user needs)."""
    return page.evaluate(OVERFLOW_JS)


def focus_problem(page) -> str | None:
    """Why the focused element's focus cannot be seen, or None when it can (WCAG 2.2 1.4.11: an
    outline at least 2 px wide with 3:1 contrast against what is beside it)."""
    focus = page.evaluate(FOCUS_JS)
    if focus is None:
        return "focus is on nothing (the page body)"
    if focus["outline"] in ("none", "hidden") or focus["width"] < 2:
        return f"{focus['element']} {focus['name']!r}: no focus outline ({focus['outline']} {focus['width']}px)"
    if focus["ratio"] < 3:
        return (f"{focus['element']} {focus['name']!r}: focus outline {focus['color']} on {focus['behind']} "
                f"is {focus['ratio']}:1, below 3:1")
    return None


def tab_through(page, stops: int = 60) -> list[str]:
    """Press Tab up to `stops` times from the top of the page and return every stop whose focus cannot
    be seen. Stops early when focus leaves the page or comes back round."""
    problems, seen = [], []
    # A heading may be in the DOM before the stylesheet has applied (a redirect's page still loading, as
    # after the partner sign-in): the focus ring would then be the browser's own 1 px one.
    page.wait_for_load_state("load")
    page.keyboard.press("Tab")
    for _ in range(stops):
        where = page.evaluate("() => document.activeElement && document.activeElement.outerHTML.slice(0, 120)")
        if where in seen[:1] or where is None or where.startswith("<body"):
            break
        seen.append(where)
        problem = focus_problem(page)
        if problem:
            problems.append(problem)
        page.keyboard.press("Tab")
    return problems
