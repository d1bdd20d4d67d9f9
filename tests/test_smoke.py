from datetime import datetime, timedelta, timezone

from rq import Queue, Worker
from rq.utils import utcformat

from portal.extensions import worker_redis


def test_health_answers_without_sign_in(client):
    assert client.get("/healthz").json == {"status": "ok"}


def register_worker(app, name: str, last_seen_seconds_ago: float = 0) -> Worker:
    """A real RQ worker registration, as `flask worker` makes it, last seen that long ago."""
    with app.app_context():
        connection = worker_redis()
        worker = Worker([Queue("default", connection=connection)], connection=connection, name=name)
        worker.register_birth()
        seen = datetime.now(timezone.utc) - timedelta(seconds=last_seen_seconds_ago)
        connection.hset(worker.key, "last_heartbeat", utcformat(seen))
        return worker


def test_readiness_checks_database_redis_and_a_worker(app, client):
    register_worker(app, "web1-worker")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok", "workers": "ok"}


def test_not_ready_without_a_worker(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "not ready", "checks": {"database": "ok", "redis": "ok",
                                                               "workers": "no worker is running"}}


def test_a_worker_not_seen_for_a_minute_makes_it_fail_and_is_named(app, client):
    register_worker(app, "fresh-worker", last_seen_seconds_ago=20)
    register_worker(app, "silent-worker", last_seen_seconds_ago=75)
    response = client.get("/readyz")
    assert response.status_code == 503
    workers = response.json["checks"]["workers"]
    assert workers.startswith("stale: silent-worker not seen for 7") and "fresh-worker" not in workers


def test_a_worker_that_stopped_cleanly_is_forgotten(app, client):
    register_worker(app, "running-worker", last_seen_seconds_ago=5)
    gone = register_worker(app, "stopped-worker", last_seen_seconds_ago=90)
    with app.app_context():
        gone.register_death()
    assert client.get("/readyz").status_code == 200
