"""The workers `flask worker` runs leave out the bookkeeping round trips that repeat what Redis already
holds, and still beat, say their state and stop when suspended. Counts are exact: no timing."""

from contextlib import contextmanager
from datetime import timedelta

import redis
from rq import Queue
from rq.suspension import resume, suspend
from rq.utils import now

from portal.extensions import worker_redis
from portal.ops import workers
from portal.ops.workers import HEARTBEAT_EVERY_SECONDS, InProcessWorker

JOBS = 20
# RQ's own SimpleWorker makes 18 round trips per no-op job (rq 2.12: three beats of two each outside its
# pipelines, "idle" written twice, a suspension check per job); ours makes 10.
ROUND_TRIPS_PER_JOB = 10


@contextmanager
def counting_round_trips(monkeypatch):
    """Every send to Redis from this process (a command, or a whole pipeline) while the block runs."""
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def send_packed_command(connection, command, check_health=True):
        sent.append(command)
        return original(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send_packed_command)
    yield sent
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", original)


def without_clock_driven_round_trips(monkeypatch) -> None:
    """Put off the worker's round trips that depend on the clock (a beat once the last is
    HEARTBEAT_EVERY_SECONDS old, the suspension check once a second): a burst that a loaded machine
    stretches past a second would otherwise count one more than the same burst on an idle one. Each burst
    still makes its first beat and check, so they cancel out between two bursts."""
    monkeypatch.setattr(workers, "HEARTBEAT_EVERY_SECONDS", 3600)
    monkeypatch.setattr(workers, "SUSPENSION_CHECK_EVERY_SECONDS", 3600)


def burst_round_trips(app, monkeypatch, jobs: int) -> int:
    """Round trips of one burst that does `jobs` no-op jobs, start-up and the end included."""
    with app.app_context():
        connection = worker_redis()
        queue = Queue("default", connection=connection)
        done = [queue.enqueue("os.getpid", result_ttl=60) for _ in range(jobs)]
        worker = InProcessWorker([queue], connection=connection)
        without_clock_driven_round_trips(monkeypatch)
        with counting_round_trips(monkeypatch) as sent:
            worker.work(burst=True)
        assert all(job.get_status(refresh=True) == "finished" for job in done)
        return len(sent)


def test_a_worker_runs_each_job_in_ten_round_trips(app, monkeypatch):
    # The difference of two bursts is what the extra jobs cost: start-up and the end cancel out.
    per_job = (burst_round_trips(app, monkeypatch, 2 * JOBS) - burst_round_trips(app, monkeypatch, JOBS)) / JOBS
    assert 5 < per_job <= ROUND_TRIPS_PER_JOB


def test_a_beat_is_sent_once_the_last_is_old_and_not_before(app, monkeypatch):
    with app.app_context():
        connection = worker_redis()
        worker = InProcessWorker([Queue("default", connection=connection)], connection=connection)
        worker.register_birth()
        try:
            worker.last_heartbeat = now() - timedelta(seconds=HEARTBEAT_EVERY_SECONDS + 1)
            with counting_round_trips(monkeypatch) as sent:
                worker.heartbeat()
                assert len(sent) == 2  # HSET last_heartbeat, EXPIRE
                worker.heartbeat()
                assert len(sent) == 2  # a second later: nothing new to say
                worker.heartbeat(timeout=600)
                assert len(sent) == 4  # a beat with its own timeout always goes
            stored = InProcessWorker.find_by_key(worker.key, connection=connection)
            assert (now() - stored.last_heartbeat).total_seconds() < HEARTBEAT_EVERY_SECONDS
            assert connection.ttl(worker.key) > 500
        finally:
            worker.register_death()


def test_the_state_is_written_when_it_changes(app, monkeypatch):
    with app.app_context():
        connection = worker_redis()
        worker = InProcessWorker([Queue("default", connection=connection)], connection=connection)
        worker.register_birth()
        try:
            with counting_round_trips(monkeypatch) as sent:
                worker.set_state("idle")
                worker.set_state("idle")
                assert len(sent) == 1
                worker.set_state("busy")
                assert len(sent) == 2
            assert InProcessWorker.find_by_key(worker.key, connection=connection).get_state() == "busy"
        finally:
            worker.register_death()


def test_a_suspended_worker_does_no_job(app):
    with app.app_context():
        connection = worker_redis()
        queue = Queue("default", connection=connection)
        job = queue.enqueue("os.getpid")
        suspend(connection)
        try:
            InProcessWorker([queue], connection=connection).work(burst=True)
            assert job.get_status(refresh=True) == "queued"
        finally:
            resume(connection)
        InProcessWorker([queue], connection=connection).work(burst=True)
        assert job.get_status(refresh=True) == "finished"
