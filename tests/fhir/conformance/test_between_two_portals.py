"""Two portals book into each other on loopback: portal A's "book at another service" (the consumer side)
books, and cancels, at portal B's FHIR API (the provider side), each with its own database. What A sends is
what the NHS Booking API pages print; every body sent or answered parses as STU3."""

import io
import json
from datetime import date, time, timedelta

import pytest
from fhir.resources.STU3 import construct_fhir_element
from flask_migrate import upgrade

from portal.book_elsewhere import services as consumer
from portal.book_elsewhere.clients import INTERACTIONS
from portal.extensions import db
from portal.fhir.oauth import SCOPES, ensure_api_client
from tests.conftest import _free_port, serve_on_loopback
from tests.fhir.conformance import examples


class Recorder:
    """WSGI middleware in front of portal B: keeps each request's headers and body, as a proxy log would."""

    def __init__(self, wsgi_app):
        self.wsgi_app, self.requests = wsgi_app, []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""),
                              headers, body))
        return self.wsgi_app(environ, start_response)


@pytest.fixture
def portal_b(app, tmp_path, monkeypatch):
    """Portal B: its own SQLite database and a week of slots from today; portal A's booking client is one
    of its API clients; a sandbox whose directories list B's services, which portal A is pointed at."""
    from portal import create_app
    from portal.sandbox import create_app as create_sandbox
    from portal.scheduling import services

    database = f"sqlite:///{tmp_path}/portal-b.db"
    b = create_app({"TESTING": True, "SERVER_NAME": None, "SQLALCHEMY_DATABASE_URI": database,
                    "REDIS_URL": app.config["REDIS_URL"], "INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setitem(app.config, "BOOKING_CLIENT_SECRET", "portal-a-secret-at-portal-b")
    with b.app_context():
        upgrade()
        ensure_api_client(client_id=app.config["BOOKING_CLIENT_ID"], secret="portal-a-secret-at-portal-b",
                          name="Portal A", scopes=list(SCOPES))
        schedule = services.set_up_schedule(name="B clinic", service_name="Portal B minor injuries",
                                            organisation_code="RBB01", location_name="Portal B health centre",
                                            practitioner_given="Bea", practitioner_family="Bell")
        for weekday in range(7):
            services.add_weekly_template(schedule.id, weekday=weekday, start_time=time(0), end_time=time(23, 45),
                                         slot_minutes=15)
        services.generate_slots(schedule.id, date.today(), date.today() + timedelta(days=6))
        db.session.remove()
    recorder = Recorder(b.wsgi_app)
    b.wsgi_app = recorder
    sandbox = create_sandbox(smtp_port=_free_port())
    with serve_on_loopback(b) as url, serve_on_loopback(sandbox) as sandbox_url:
        b.config["PORTAL_URL"] = url
        sandbox.config.update(PORTAL_URL=url, SQLALCHEMY_DATABASE_URI=database, FAILURE_MODES={})
        for name, path in (("DOS_URL", "dos"), ("SDS_URL", "sds"), ("PDS_URL", "pds")):
            monkeypatch.setitem(app.config, name, f"{sandbox_url}/{path}")
        yield b, recorder
    sandbox.extensions["sandbox_smtp"].stop()


def _sent(recorder, method: str, path_end: str) -> list[tuple]:
    return [r for r in recorder.requests if r[0] == method and r[1].endswith(path_end)]


@pytest.mark.requirement("CO-01", "CO-02", "CO-03", "ALL-01")
def test_portal_a_books_and_cancels_at_portal_b_as_the_pages_print_it(app, portal_b):
    b, recorder = portal_b
    with app.app_context():
        person = consumer.verify_person("9434765919")
        service = consumer.resolve_service(consumer.find_services("LS1 4AP")[0]["id"])
        slots = consumer.free_slots(service)
        assert slots and slots[0].identifier and slots[0].location == "Portal B health centre"
        booked = consumer.book_at(service, person, slots[0], "Sprained ankle")
        cancelled = consumer.cancel_at(service, booked["id"])
    # What portal B received: the page's slot query, the example's booking form, a read and a PUT back.
    (_, _, query, _, _), = _sent(recorder, "GET", "/Slot")
    from urllib.parse import parse_qsl

    sent = parse_qsl(query)
    # The page's parameters in its order, with one more include (the Organization one the page's table lists).
    assert [n for n, _ in sent if n != "_include:iterate"] == [n for n, _ in examples.SLOT_QUERY
                                                               if n != "_include:iterate"]
    assert [n for n, _ in sent].count("_include:iterate") == 5
    assert {value for name, value in sent if name.startswith("_include")} == {
        "Slot:schedule", "Schedule:actor:Practitioner", "Schedule:actor:PractitionerRole",
        "Schedule:actor:HealthcareService", "HealthcareService:Organization", "HealthcareService:Location"}
    (_, _, _, _, body), = _sent(recorder, "POST", "/Appointment")
    appointment = json.loads(body)
    construct_fhir_element("Appointment", appointment)
    contained = {r["resourceType"]: r for r in appointment["contained"]}
    assert appointment["slot"] == [{"reference": f"#{contained['Slot']['id']}"}]
    assert contained["Slot"]["identifier"] == [{"system": "https://tools.ietf.org/html/rfc4122",
                                                "value": slots[0].identifier}]
    assert contained["Patient"]["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "01"
    assert "id" not in appointment and appointment["participant"][0]["status"] == "accepted"
    (_, _, _, put_headers, put_body), = _sent(recorder, "PUT", f"/Appointment/{booked['id']}")
    assert put_headers["If-Match"] == 'W/"1"' and json.loads(put_body)["status"] == "cancelled"
    assert len(_sent(recorder, "GET", f"/Appointment/{booked['id']}")) == 1  # read before the PUT
    # Every request carried the headers a consumer sends through the Spine proxy.
    interactions = {"GET /Slot": "search-slots", "POST /Appointment": "book", "GET /Appointment": "read",
                    "PUT /Appointment": "cancel"}
    for method, path, _, headers, _ in recorder.requests:
        if not path.startswith("/fhir/"):
            continue  # the token endpoint
        kind = interactions[f"{method} /{path.split('/')[3]}"]
        assert headers["Ssp-Interactionid"] == INTERACTIONS[kind]
        assert headers["Ssp-From"] == app.config["BOOKING_ASID"] and headers["Ssp-To"] == service.asid
        assert len(headers["Ssp-Traceid"]) == 36 and headers["X-Request-Id"] == headers["Ssp-Traceid"]
    # What portal B answered parses as STU3, and B holds the cancelled appointment with its first version.
    for answered in (booked, cancelled):
        construct_fhir_element("Appointment", answered)
    assert cancelled["status"] == "cancelled" and cancelled["meta"]["versionId"] == "2"
    from portal.scheduling.models import Appointment

    with b.app_context():
        held = db.session.get(Appointment, int(booked["id"]))
        assert held.status == "cancelled" and held.booked_by == f"api_client:{app.config['BOOKING_CLIENT_ID']}"
        db.session.remove()


@pytest.mark.requirement("SS-24", "CO-02")
def test_a_refused_booking_is_not_retried(app, portal_b):
    b, recorder = portal_b
    with app.app_context():
        service = consumer.resolve_service(consumer.find_services("LS1 4AP")[0]["id"])
        slot = consumer.free_slots(service)[0]
        consumer.book_at(service, consumer.verify_person("9434765919"), slot)
        posts = len(_sent(recorder, "POST", "/Appointment"))
        with pytest.raises(consumer.RemoteSlotTaken, match="no longer free"):
            consumer.book_at(service, consumer.verify_person("4010232137"), slot)
    assert len(_sent(recorder, "POST", "/Appointment")) == posts + 1


@pytest.mark.requirement("CO-02")
def test_a_provider_without_slot_identifiers_is_booked_by_slot_id(app):
    person = consumer.Person(nhs_number="9434765919", family="Able", given="Amy", birth_date="1980-05-01")
    from datetime import datetime

    slot = consumer.RemoteSlot(id="77", start=datetime(2030, 1, 7, 9), end=datetime(2030, 1, 7, 9, 15))
    with app.app_context():
        body = consumer.appointment_for(person, slot, None)
    construct_fhir_element("Appointment", body)
    assert body["slot"] == [{"reference": "Slot/77"}] and body["description"]
