"""Check-in fixtures: a clinic with travel pay, an appointment booked through `book_slot`, a link."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
import requests

from portal.extensions import db
from tests.conftest import make_patient

BIRTH_DATE = "1969-11-13"  # make_patient's Line Danser


def set_up_clinic(app, travel_pay: bool = True, name: str = "Riverside Health Centre",
                  time_zone: str = "Europe/London") -> dict:
    from portal.scheduling import services

    with app.app_context():
        schedule = services.set_up_schedule(
            name=f"Check-in clinic {name}", service_name="Outpatients", organisation_code="RXX02",
            location_name=name, practitioner_given="Asha", practitioner_family="Patel", timezone_name=time_zone)
        schedule.location.travel_pay_enabled = travel_pay
        db.session.commit()
        ids = {"schedule_id": schedule.id, "service_id": schedule.healthcare_service_id,
               "location_id": schedule.location_id}
        db.session.remove()
        return ids


def book_appointment(app, clinic: dict, patient_id: int, minutes_from_now: int = 20, start=None) -> int:
    """A slot starting `minutes_from_now` (whole minutes) or at `start`, booked through the booking service."""
    from portal.scheduling.models import Slot
    from portal.scheduling.services import book_slot
    from portal.security.models import utcnow

    with app.app_context():
        start = start or utcnow().replace(second=0, microsecond=0) + timedelta(minutes=minutes_from_now)
        slot = Slot(schedule_id=clinic["schedule_id"], healthcare_service_id=clinic["service_id"], start=start,
                    end=start + timedelta(minutes=15), status="free")
        db.session.add(slot)
        db.session.commit()
        appointment = book_slot(slot.id, patient_id=patient_id, actor=("staff", "1"))
        db.session.remove()
        return appointment.id


def make_checkin_patient(app, **kwargs) -> int:
    from portal.patients.models import Patient

    patient_id = make_patient(app, **kwargs)
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        patient.home_address = "1 Fjord Road\nBergen"
        patient.emergency_contact = "Ola Danser, +4790000001"
        patient.next_of_kin = "Kari Danser (sister)"
        db.session.commit()
        db.session.remove()
    return patient_id


def new_link(app, patient_id: int) -> str:
    from portal.checkin.models import SAME_DAY
    from portal.checkin.services import create_link
    from portal.security.models import utcnow

    with app.app_context():
        raw = create_link(patient_id, utcnow().date(), SAME_DAY)
        db.session.commit()
        db.session.remove()
        return raw


@pytest.fixture
def clinic(app, clinic_morning):
    """A travel-pay clinic in London; the clock starts at 10:00 there, so appointments "in N minutes"
    are today at the clinic whenever the suite runs."""
    return set_up_clinic(app)


@pytest.fixture
def checkin_patient(app):
    return make_checkin_patient(app)


@pytest.fixture
def travel_sandbox(sandbox):
    """The sandbox's claims API reset to "succeed"; `.counters()` reads its counters."""
    requests.post(f"{sandbox.url}/travel/reset", timeout=5).raise_for_status()
    sandbox.counters = lambda: requests.get(f"{sandbox.url}/travel/counters", timeout=5).json()
    sandbox.set_mode = lambda **mode: requests.post(f"{sandbox.url}/travel/mode", json=mode, timeout=5).json()
    return sandbox


def run_claim_jobs(app, with_scheduler: bool = False) -> None:
    """Work the claims queue until it is empty, in this process (like `flask worker --burst`); with the
    scheduler, scheduled jobs whose time has come are queued first."""
    from rq import Queue, SimpleWorker

    from portal.extensions import worker_redis

    with app.app_context():
        connection = worker_redis()
        SimpleWorker([Queue("claims", connection=connection)], connection=connection).work(
            burst=True, with_scheduler=with_scheduler)
        db.session.remove()


@contextmanager
def redis_unreachable(app):
    """The web app's Redis points at a closed port while the block runs (Redis down for the portal only)."""
    working = app.extensions["portal_redis"]
    app.extensions["portal_redis"] = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        yield
    finally:
        app.extensions["portal_redis"] = working
