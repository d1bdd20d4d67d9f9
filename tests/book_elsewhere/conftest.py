"""Fixtures for booking at another service: the sandbox plays the service directory, endpoint
directory and demographics service; the remote provider is this portal's own FHIR API."""

import re
import threading

import pytest
from werkzeug.serving import make_server

from portal.fhir.oauth import SCOPES, ensure_api_client
from portal.scheduling import services


@pytest.fixture(scope="session")
def sandbox(live_server):
    from portal.sandbox import create_app as create_sandbox

    sandbox_app = create_sandbox()
    sandbox_app.config.update(PORTAL_URL=live_server, SANDBOX_SLOW_SECONDS=2)
    server = make_server("127.0.0.1", 0, sandbox_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield sandbox_app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def chain(app, sandbox, monkeypatch):
    sandbox_app, url = sandbox
    sandbox_app.config["FAILURE_MODES"] = {}
    for name, path in (("DOS_URL", "dos"), ("SDS_URL", "sds"), ("PDS_URL", "pds")):
        monkeypatch.setitem(app.config, name, f"{url}/{path}")
    monkeypatch.setitem(app.config, "BOOKING_CLIENT_SECRET", "loopback-secret-for-tests")
    with app.app_context():
        ensure_api_client(client_id=app.config["BOOKING_CLIENT_ID"], secret="loopback-secret-for-tests",
                          name="loopback", scopes=list(SCOPES))
    return sandbox_app


@pytest.fixture
def this_week(app, diary_set_up):
    """Slots from today for a week, so the consumer's 'next seven days' finds them."""
    from datetime import date, timedelta

    with app.app_context():
        services.generate_slots(diary_set_up["schedule_id"], date.today(), date.today() + timedelta(days=6))
    return diary_set_up


def form(c, url, data):
    return c.post(url, data={"csrf_token": c.csrf, **data})


def first_offer(html: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="(slot_id|start|end)" value="([^"]+)"', html)[:3])
    assert set(fields) == {"slot_id", "start", "end"}
    return fields
