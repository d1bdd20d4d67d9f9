"""Schemathesis against every operation of /api/openapi.json with a large budget; prints a status
histogram per operation and the number of 5xx answers (the goal is 0).

    .venv/bin/python bench/fuzz.py                # 1,000 generated requests per operation and mode
    .venv/bin/python bench/fuzz.py --examples 200
    .venv/bin/python bench/fuzz.py --random       # other requests every run (deterministic by default)
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/fuzz.py

It runs the same test as `make test` (tests/api_docs/test_fuzz.py: positive and negative cases, the
hooks that sign webhook requests and fetch a bearer token, every Schemathesis check) with
FUZZ_EXAMPLES raised, on a fresh test database. The generation is deterministic, so two runs with
the same budget send the same requests.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="Hypothesis examples per operation and mode")
    parser.add_argument("--random", action="store_true",
                        help="generate other requests every run (a failure prints the blob that replays it)")
    args = parser.parse_args()
    os.environ["FUZZ_EXAMPLES"] = str(args.examples)  # read when the fuzzing module is imported
    os.environ["FUZZ_RANDOM"] = "1" if args.random else "0"
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import pytest

    started = time.monotonic()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "tests/api_docs/test_fuzz.py"])
    elapsed = time.monotonic() - started
    from tests.api_docs import fuzzing

    print(f"\nSchemathesis, {args.examples} examples per operation and mode (positive, negative), "
          f"{'random' if args.random else 'deterministic'}, "
          f"{elapsed:.0f} s, database {os.environ.get('DATABASE_URL', 'SQLite')}")
    print(f"{'operation':45} {'sent':>6}  status×count")
    for line in fuzzing.histogram_lines(fuzzing.TALLY):
        print(line)
    total = sum(sum(c.values()) for c in fuzzing.TALLY.values())
    errors = sum(n for c in fuzzing.TALLY.values() for status, n in c.items() if status >= 500)
    print(f"{'all operations':45} {total:6}  5xx×{errors}")
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
