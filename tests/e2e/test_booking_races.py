"""Races for slots against real server processes: gunicorn with several workers over the test database.

Every worker is its own process with its own connection pool, so the only thing that can keep
two bookings of one slot apart is the database: the conditional UPDATE and the unique active slot.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from portal.extensions import db
from portal.scheduling.models import Appointment, Slot
from tests.conftest import slot_ids
from tests.fhir.conftest import FHIR_JSON, appointment_body

ROOT = Path(__file__).resolve().parents[2]
NHS_NUMBERS = ["9434765919", "4010232137", "9990548609", "9449306680"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_server(app):
    port = _free_port()
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"], LOG_LEVEL="WARNING")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "--workers", "4", "--worker-class", "gthread", "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the whole group: master and workers
        process.wait(timeout=30)


def _token(url: str, client_id: str, secret: str) -> dict:
    response = requests.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret), timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Content-Type": FHIR_JSON}


def _slot_times(app, slot_id: int) -> tuple[str, str]:
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        return slot.start.isoformat() + "Z", slot.end.isoformat() + "Z"


def test_200_simultaneous_bookings_of_one_slot_give_one_201_and_199_422(app, gunicorn_server, api_client,
                                                                        diary_set_up):
    headers = _token(gunicorn_server, *api_client())
    slot_id = slot_ids(app)[0]
    start, end = _slot_times(app, slot_id)

    def book(n: int) -> int:
        body = appointment_body(slot_id, start, end, nhs_number=NHS_NUMBERS[n % len(NHS_NUMBERS)])
        return requests.post(f"{gunicorn_server}/fhir/stu3/Appointment", data=json.dumps(body), headers=headers,
                             timeout=120).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = Counter(pool.map(book, range(200)))
    assert statuses == {201: 1, 422: 199}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
        assert db.session.get(Slot, slot_id).status == "busy"


def test_random_concurrent_bookings_never_book_a_slot_twice(app, gunicorn_server, api_client, diary_set_up):
    headers = _token(gunicorn_server, *api_client())
    slots = slot_ids(app)[:30]
    times = {slot_id: _slot_times(app, slot_id) for slot_id in slots}
    rng = random.Random(4)
    picks = [rng.choice(slots) for _ in range(240)]

    def book(n: int) -> tuple[int, int]:
        slot_id = picks[n]
        body = appointment_body(slot_id, *times[slot_id], nhs_number=NHS_NUMBERS[n % len(NHS_NUMBERS)])
        response = requests.post(f"{gunicorn_server}/fhir/stu3/Appointment", data=json.dumps(body),
                                 headers=headers, timeout=120)
        return slot_id, response.status_code

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(book, range(len(picks))))
    won = [slot_id for slot_id, status in results if status == 201]
    assert {status for _, status in results} <= {201, 422}
    assert len(won) == len(set(won)) == len(set(picks))  # every picked slot booked exactly once
    with app.app_context():
        per_slot = dict(db.session.execute(
            select(Appointment.slot_id, func.count()).group_by(Appointment.slot_id)).all())
        assert set(per_slot.values()) == {1} and set(per_slot) == set(picks)
        busy = db.session.scalar(select(func.count()).select_from(Slot).where(Slot.status == "busy"))
        assert busy == len(per_slot)


def test_bookings_racing_a_cancellation_leave_at_most_one_live_appointment(app, gunicorn_server, api_client,
                                                                           diary_set_up):
    headers = _token(gunicorn_server, *api_client())
    slot_id = slot_ids(app)[0]
    start, end = _slot_times(app, slot_id)
    first = requests.post(f"{gunicorn_server}/fhir/stu3/Appointment",
                          data=json.dumps(appointment_body(slot_id, start, end)), headers=headers, timeout=60)
    assert first.status_code == 201
    appointment = first.json()

    def act(n: int) -> int:
        if n == 10:
            return requests.put(f"{gunicorn_server}/fhir/stu3/Appointment/{appointment['id']}",
                                data=json.dumps({**appointment, "status": "cancelled"}),
                                headers={**headers, "If-Match": first.headers["ETag"]}, timeout=60).status_code
        body = appointment_body(slot_id, start, end, nhs_number=NHS_NUMBERS[n % len(NHS_NUMBERS)])
        return requests.post(f"{gunicorn_server}/fhir/stu3/Appointment", data=json.dumps(body), headers=headers,
                             timeout=60).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(act, range(60)))
    assert statuses[10] == 200
    assert statuses.count(201) <= 1 and set(statuses) <= {200, 201, 422}
    with app.app_context():
        live = db.session.scalar(select(func.count()).select_from(Appointment)
                                 .where(Appointment.active_slot_id == slot_id))
        assert live == statuses.count(201)
        assert db.session.get(Slot, slot_id).status == ("busy" if live else "free")
