"""Logs: one JSON object per request with its request id, route name, status and duration; no
patient data (names, phone numbers, national ids, link tokens) in any line."""

import io
import json
import logging

import pytest

from portal.ops.request_log import RequestIdFilter, json_formatter
from tests.conftest import PATIENT_FNR, make_consultation
from tests.consultations.conftest import check, link_for


@pytest.fixture
def json_log():
    """Every log line written while the test runs, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    # The test session ran the migrations in-process, and Alembic's logging set-up quietened the root.
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_request_is_one_json_line_with_its_request_id(client, json_log):
    response = client.get("/login", headers={"X-Request-ID": "proxy-id-12345678"})
    assert response.headers["X-Request-ID"] == "proxy-id-12345678"
    lines = [line for line in json_log() if line["logger"] == "portal.request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "proxy-id-12345678" and line["level"] == "INFO"
    assert line["method"] == "GET" and line["endpoint"] == "security.login" and line["status"] == 200
    assert line["duration_ms"] >= 0 and line["time"]


@pytest.mark.parametrize("given", ["", "x" * 65, "bad id with spaces", "<script>"])
def test_an_odd_request_id_from_outside_is_replaced(client, json_log, given):
    response = client.get("/login", headers={"X-Request-ID": given})
    issued = response.headers["X-Request-ID"]
    assert issued != given and len(issued) == 32
    assert [line["request_id"] for line in json_log() if line["logger"] == "portal.request"] == [issued]


def test_no_patient_data_reaches_the_logs(app, client, post_referral, seed_referral, json_log):
    assert post_referral(seed_referral).status_code == 201
    cid = make_consultation(app)
    path = link_for(app, cid)
    token = path.rsplit("/", 1)[1]
    client.get(path)
    check(client, path, last_name="Danser")
    client.get(f"/checkin/{token}")
    client.get(f"/schedule/{token}")
    lines = json_log()
    requests = [line for line in lines if line["logger"] == "portal.request"]
    assert {line["endpoint"] for line in requests} >= {"referrals.api.receive", "consultations.patient.identity_check"}
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (token, "Danser", "Line", PATIENT_FNR, "12345678", "line.danser@example.com",
                   seed_referral["JournalGuid"]):
        assert secret not in text, secret
