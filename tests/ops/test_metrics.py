"""/metrics: Prometheus text behind a bearer token; request latency by route name, queue lengths,
failed jobs, job failures and consultation waiting times."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker

from portal.extensions import worker_redis
from portal.ops.metrics import record_job_failure
from tests.conftest import make_consultation, make_staff
from tests.consultations.conftest import start


def scrape(app, client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {app.config['METRICS_TOKEN']}"})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic {token}", "Bearer", "{token}"])
def test_metrics_without_the_right_bearer_token_are_not_found(app, client, header):
    headers = {"Authorization": header.format(token=app.config["METRICS_TOKEN"])} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert b"portal_" not in response.data


def test_each_install_has_its_own_metrics_token(app):
    import json
    from pathlib import Path

    stored = json.loads((Path(app.config["INSTANCE_PATH"]) / "secrets.json").read_text())
    assert stored["METRICS_TOKEN"] == app.config["METRICS_TOKEN"] and len(app.config["METRICS_TOKEN"]) >= 32


def test_a_request_adds_to_the_latency_count_of_its_route(app, client):
    before = value(scrape(app, client), "portal_http_request_duration_seconds_count",
                   endpoint="security.login", method="GET", status="200")
    assert client.get("/login").status_code == 200
    after = scrape(app, client)
    assert value(after, "portal_http_request_duration_seconds_count",
                 endpoint="security.login", method="GET", status="200") == before + 1
    # Labels are route names: no raw path (and so no token or id) is ever a label.
    assert not any("/" in v for _, labels in after for _, v in labels)


def test_a_patient_link_is_counted_by_its_route_not_its_token(app, client):
    client.get("/c/some-secret-link-token")
    samples = scrape(app, client)
    assert value(samples, "portal_http_request_duration_seconds_count",
                 endpoint="consultations.patient.identity_check", method="GET", status="404") >= 1
    assert not any("some-secret-link-token" in v for _, labels in samples for _, v in labels)


def test_queue_lengths_failed_jobs_and_failures_come_from_redis(app, client):
    with app.app_context():
        connection = worker_redis()
        Queue("reports", connection=connection).enqueue("os.getpid")
        failing = Queue("default", connection=connection)
        failing.enqueue("math.sqrt", -1)  # ValueError: math domain error
        SimpleWorker([failing], connection=connection, exception_handlers=[record_job_failure]).work(
            burst=True, with_scheduler=False)
    samples = scrape(app, client)
    assert value(samples, "portal_rq_queue_length", queue="reports") == 1
    assert value(samples, "portal_rq_queue_length", queue="default") == 0
    assert value(samples, "portal_rq_failed_jobs", queue="default") == 1
    assert value(samples, "portal_rq_job_failures_total", queue="default") == 1
    assert value(samples, "portal_rq_job_failures_total", queue="notifications") == 0


def test_starting_a_consultation_observes_its_waiting_time(app, client, sandbox):
    before = value(scrape(app, client), "portal_consultation_waiting_seconds_count")
    start(app, make_consultation(app), make_staff(app, "doctor"))
    samples = scrape(app, client)
    assert value(samples, "portal_consultation_waiting_seconds_count") == before + 1
    assert value(samples, "portal_consultation_waiting_seconds_bucket", le="+Inf") >= before + 1
