"""Database ids where people and clients type them: in URLs and in forms.

Ids are 32-bit integers in the database (PostgreSQL `integer`), so one past 2**31 - 1 is simply
not found (404 or a form error), never a 500 from a value the database cannot compare.
"""

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: werkzeug's int converter, bounded to what the database holds.

    An id past the bound becomes 0, which no row has, rather than failing the match: werkzeug would
    answer a failed match with 405 when another method's rule has the same path (PUT vs GET
    /Appointment/<id>).
    """

    regex = r"\d{1,18}"  # longer does not match at all (and int() of 5,000 digits would raise)

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= self.max else 0


def parse_id(value) -> int | None:
    """An optional id from a query string or hidden field: None when empty, ValueError when it is not one."""
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise ValueError(f"not an id: {text[:20]!r}")
    return int(text)
