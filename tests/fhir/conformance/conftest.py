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


# --- what the conformance tests share -------------------------------------------------------------------

SLOT_START, SLOT_END = "2030-01-07T09:00:00+00:00", "2030-01-07T09:15:00+00:00"


@pytest.fixture
def consumer(bearer):
    """Headers of a consumer system with every scope of the booking API."""
    return bearer()


@pytest.fixture
def second_schedule(app, diary_set_up):
    """A schedule of the same service at another place with no practitioner (so its actor is its location)."""
    from datetime import date, time

    from portal.extensions import db
    from portal.scheduling import services

    with app.app_context():
        location = services.create_location(name="Harbour Walk-in Centre", organisation_code="RXX02")
        schedule = services.create_schedule(name="Walk-in", healthcare_service_id=diary_set_up["service_id"],
                                            location_id=location.id)
        db.session.commit()
        services.add_weekly_template(schedule.id, weekday=0, start_time=time(9), end_time=time(10), slot_minutes=30)
        services.generate_slots(schedule.id, date(2030, 1, 7), date(2030, 1, 7))
        ids = {"schedule_id": schedule.id, "location_id": location.id}
        db.session.remove()
        return ids


def slot_row(app, start: str = SLOT_START, schedule_id: int | None = None):
    """(id, uuid, schedule_id) of the slot starting then."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.fhir.parsing import parse_datetime
    from portal.scheduling.models import Slot

    with app.app_context():
        query = select(Slot).where(Slot.start == parse_datetime(start))
        if schedule_id is not None:
            query = query.where(Slot.schedule_id == schedule_id)
        slot = db.session.scalars(query.order_by(Slot.id)).first()
        return slot.id, str(slot.uuid), slot.schedule_id


def book_example(client, app, headers, *, start=SLOT_START, end=SLOT_END, appointment_end="2030-01-07T09:10:00+00:00",
                 nhs_number="9434765919", schedule_id=None, **changes):
    """POST appointment.html's booking example for the slot starting at `start`."""
    import json

    from tests.fhir.conformance import examples

    slot_id, slot_uuid, schedule_id = slot_row(app, start, schedule_id)
    body = examples.booking_body(slot_uuid=slot_uuid, schedule_id=schedule_id, start=start, end=end,
                                 appointment_end=appointment_end, nhs_number=nhs_number)
    body.update(changes)
    return client.post("/fhir/stu3/Appointment", data=json.dumps(body),
                       headers={**headers, "Content-Type": "application/fhir+json"})
