"""The ICPC-2 code list the report form offers, shipped as data (`data/icpc2.tsv`).

It holds the codes in everyday use in a primary-care video clinic, not the whole classification;
adding a code is adding a line. Codes not in the list are refused.
"""

from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "icpc2.tsv"


@lru_cache(maxsize=1)
def codes() -> dict[str, str]:
    pairs = (line.split("\t", 1) for line in _DATA.read_text(encoding="utf-8").splitlines() if line.strip())
    return {code.strip(): title.strip() for code, title in pairs}


def normalise(value: str) -> str | None:
    """'r74', 'R74 Upper respiratory…' → 'R74'; None when it is not a code in the list."""
    code = (value or "").strip().split(" ", 1)[0].upper()
    return code if code in codes() else None


def search(query: str, limit: int = 20) -> list[tuple[str, str]]:
    query = (query or "").strip().casefold()
    if not query:
        return list(codes().items())[:limit]
    return [(c, t) for c, t in codes().items() if query in c.casefold() or query in t.casefold()][:limit]
