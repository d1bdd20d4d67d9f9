"""The conformance table: which rule of the NHS Booking API pages each test shows, and how it went.

A test names its rules with `@pytest.mark.requirement("SS-01", ...)`. At the end of a run that collected
any of them, a table of every rule (id, page, level, pass/fail/no test) is printed; `test_catalogue.py`
fails when a rule has no test or a test names a rule that is not in the catalogue.
"""

import pytest

from tests.fhir.conformance.requirements import REQUIREMENTS

_outcomes: dict[str, list[str]] = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(*ids): the NHS Booking API rules this test shows")


def requirement_ids(item) -> list[str]:
    return [rid for mark in item.iter_markers("requirement") for rid in mark.args]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    ids = requirement_ids(item)
    if not ids:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        result = "pass" if report.passed else ("skip" if report.skipped else "FAIL")
        for rid in ids:
            _outcomes.setdefault(rid, []).append(result)


def _status(results: list[str] | None) -> str:
    if not results:
        return "NO TEST"
    if "FAIL" in results:
        return "FAIL"
    if all(r == "skip" for r in results):
        return "skipped"
    return "pass"


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    write = terminalreporter.write_line
    terminalreporter.section("NHS Booking API conformance")
    write(f"{'rule':<7} {'page':<34} {'level':<10} {'tests':>5}  result  requirement")
    counts: dict[str, int] = {}
    for req in REQUIREMENTS:
        results = _outcomes.get(req.id)
        status = _status(results)
        counts[status] = counts.get(status, 0) + 1
        text = req.text if len(req.text) <= 90 else req.text[:87] + "..."
        write(f"{req.id:<7} {req.page:<34} {req.level:<10} {len(results or []):>5}  {status:<7} {text}")
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    write(f"{len(REQUIREMENTS)} requirements: {summary}")
