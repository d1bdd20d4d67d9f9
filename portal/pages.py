"""Page or fragment: one route serves the whole page, and to htmx only the part it swaps.

htmx says so with the HX-Request header (and HX-Target, the id of the element it swaps). The part
is a `{% block %}` of the page's own template, rendered alone with jinja2-fragments'
`render_block`, so a page and its fragment cannot drift apart.
"""

from flask import render_template, request, url_for
from jinja2_fragments.flask import render_block


def htmx_wants(target: str | None = None) -> bool:
    """htmx sent this request; with `target`, to swap the element of that id."""
    if not request.headers.get("HX-Request"):
        return False
    return target is None or request.headers.get("HX-Target") == target


def page_or_block(template: str, block: str, *, target: str | None = None, **context) -> str:
    """`block` of `template` alone when htmx asks (for `target`, when given), else the whole page."""
    if htmx_wants(target):
        return render_block(template, block, **context)
    return render_template(template, **context)


def url_per_id(endpoint: str, argument: str):
    """`endpoint`'s URL for any id, built by url_for once per page: a list's rows differ only in the
    id, and url_for on every row was a tenth of a queue's render."""
    marker = "2147483647"  # the largest id the int converter takes, so url_for accepts it
    head, _, tail = url_for(endpoint, **{argument: marker}).partition(marker)
    return lambda id_: f"{head}{int(id_)}{tail}"
