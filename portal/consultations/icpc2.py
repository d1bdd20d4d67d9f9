"""The ICPC-2 classification the report form offers, shipped as data (`data/icpc2.tsv`).

The whole classification: 17 chapters, symptom/complaint rubrics (01-29), process codes (30-69,
listed under every chapter) and diagnosis rubrics (70-99), with English short titles. Codes not
in the list are refused.
"""

import re
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "icpc2.tsv"
CODE_PATTERN = re.compile(r"^[ABDFHKLNPRSTUWXYZ]\d\d$")


@lru_cache(maxsize=1)
def codes() -> dict[str, str]:
    lines = _DATA.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("\t", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {code.strip(): title.strip() for code, title in pairs}


@lru_cache(maxsize=1)
def everyday_codes() -> dict[str, str]:
    """Symptoms and diagnoses (not the per-chapter process codes): what the picker offers before typing."""
    return {code: title for code, title in codes().items() if not 30 <= int(code[1:]) <= 69}


@lru_cache(maxsize=1)
def _search_index() -> list[tuple[str, str, str]]:
    return [(code, title, f"{code} {title}".casefold()) for code, title in codes().items()]


def normalise(value: str) -> str | None:
    """'r74', 'R74 Upper respiratory…' → 'R74'; None when it is not a code in the list."""
    code = (value or "").strip().split(" ", 1)[0].upper()
    return code if code in codes() else None


def search(query: str, limit: int = 20) -> list[tuple[str, str]]:
    """Codes whose code or title holds every word typed; a code typed exactly comes first."""
    words = (query or "").casefold().split()
    if not words:
        return list(everyday_codes().items())[:limit]
    hits = [(c, t) for c, t, text in _search_index() if all(w in text for w in words)]
    exact = normalise(words[0])
    hits.sort(key=lambda hit: hit[0] != exact)  # stable: the rest keep code order
    return hits[:limit]
