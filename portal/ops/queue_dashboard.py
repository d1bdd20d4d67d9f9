"""The job queues page for admins at /admin/rq: queues, workers, failed jobs and their errors.

On the portal's own pages (strict CSP, the site's styles, axe-clean). It replaced rq-dashboard,
whose pages needed inline scripts and styles and failed axe (unnamed select, contrast, no main
landmark). One change is offered: a failed job's "Run again" (a plain form with our CSRF token,
audited); emptying queues or deleting jobs stays `rq` on the host.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from portal.extensions import db, redis_client, registered_workers
from portal.ops.metrics import QUEUES, bp
from portal.security import audit
from portal.security.forms import EmptyForm
from portal.security.policy import requires

FAILED_SHOWN = 50


@dataclass
class QueueSummary:
    name: str
    waiting: int
    running: int
    scheduled: int
    deferred: int
    failed: int


def queue_summaries(connection) -> list[QueueSummary]:
    """Every queue the workers serve by default, and any other queue Redis knows, with its counts."""
    names = sorted(set(QUEUES) | {q.name for q in Queue.all(connection=connection)})
    summaries = []
    for name in names:
        queue = Queue(name, connection=connection)
        summaries.append(QueueSummary(
            name=name, waiting=queue.count, running=queue.started_job_registry.count,
            scheduled=queue.scheduled_job_registry.count, deferred=queue.deferred_job_registry.count,
            failed=queue.failed_job_registry.count))
    return summaries


def failed_jobs(connection, queue_name: str) -> list[Job]:
    """The newest failed jobs of a queue (at most FAILED_SHOWN)."""
    registry = Queue(queue_name, connection=connection).failed_job_registry
    ids = registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
    return [job for job in Job.fetch_many(ids, connection=connection) if job is not None]


def traceback_of(job: Job) -> str:
    """The traceback of the job's latest failed run, or ''."""
    result = job.latest_result()
    return (result.exc_string or "") if result is not None else ""


def error_line(job: Job) -> str:
    """The last line of a failed job's traceback: the exception and its message."""
    lines = traceback_of(job).strip().splitlines()
    return lines[-1] if lines else ""


def _known_queue(name: str) -> str:
    if name not in {q.name for q in queue_summaries(redis_client())}:
        abort(404)
    return name


@bp.get("/admin/rq", strict_slashes=False)
@requires("ops.queues")
def queues():
    connection = redis_client()
    workers = sorted(registered_workers(connection), key=lambda w: w.name)
    return render_template("ops/queues.html", queues=queue_summaries(connection), workers=workers,
                           now=datetime.utcnow())


@bp.get("/admin/rq/<name>/failed")
@requires("ops.queues")
def failed(name):
    jobs = failed_jobs(redis_client(), _known_queue(name))
    return render_template("ops/failed.html", queue=name, jobs=jobs, error_line=error_line, shown=FAILED_SHOWN)


@bp.get("/admin/rq/jobs/<job_id>")
@requires("ops.queues")
def job(job_id):
    try:
        found = Job.fetch(job_id[:100], connection=redis_client())
    except NoSuchJobError:
        abort(404)
    return render_template("ops/job.html", job=found, status=found.get_status(refresh=False),
                           traceback=traceback_of(found))


@bp.post("/admin/rq/jobs/<job_id>/requeue")
@requires("ops.requeue")
def requeue(job_id):
    """Run a failed job again: our jobs are written to be safe to run twice (they read fresh state and
    settle races in the database), so an admin may retry one after fixing what made it fail."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    connection = redis_client()
    try:
        found = Job.fetch(job_id[:100], connection=connection)
    except NoSuchJobError:
        abort(404)
    if found.get_status(refresh=False) != "failed":
        flash(_("Only a failed job can be run again."))
        return redirect(url_for("ops.job", job_id=found.id))
    Queue(found.origin, connection=connection).failed_job_registry.requeue(found.id)
    audit.record("ops.job_requeued", queue=found.origin, job_id=found.id, function=found.func_name)
    db.session.commit()
    flash(_("Job %(id)s is queued again.", id=found.id))
    return redirect(url_for("ops.job", job_id=found.id))
