"""The job queues pages at /admin/rq: admins only, on the site's strict CSP; the one change is "Run again"."""

import pytest
from rq import Queue, SimpleWorker

from portal.extensions import redis_client, worker_redis
from portal.security.auth import content_security_policy


def _fail_one_job(app):
    """Run a job that raises, as a worker would, so it lands in the failed registry."""
    with app.app_context():
        connection = worker_redis()  # never the web's client: a worker would lengthen its read timeout
        queue = Queue("default", connection=connection)
        job = queue.enqueue("operator.truediv", 1, 0)
        SimpleWorker([queue], connection=connection).work(burst=True, with_scheduler=False)
        return job.id


def test_admins_see_every_queue_with_its_counts(app, staff_client):
    with app.app_context():
        Queue("notifications", connection=redis_client()).enqueue("os.getpid")
    admin = staff_client("admin")
    page = admin.get("/admin/rq")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Job queues</h1>" in html
    row = html[html.index('<th scope="row" translate="no">notifications</th>'):].split("</tr>")[0]
    assert "<td>1</td>" in row  # one waiting
    for name in ("claims", "reports", "default"):
        assert f'<th scope="row" translate="no">{name}</th>' in html


def test_a_failed_job_is_listed_with_its_error_and_opens_with_its_traceback(app, staff_client):
    job_id = _fail_one_job(app)
    admin = staff_client("admin")
    overview = admin.get("/admin/rq").get_data(as_text=True)
    assert '/admin/rq/default/failed' in overview
    failed = admin.get("/admin/rq/default/failed").get_data(as_text=True)
    assert job_id in failed and "ZeroDivisionError: division by zero" in failed
    job = admin.get(f"/admin/rq/jobs/{job_id}")
    assert job.status_code == 200
    assert "Traceback" in job.get_data(as_text=True) and "failed" in job.get_data(as_text=True)


def test_unknown_queue_or_job_is_404(staff_client):
    admin = staff_client("admin")
    assert admin.get("/admin/rq/nope/failed").status_code == 404
    assert admin.get("/admin/rq/jobs/no-such-job").status_code == 404


def test_the_pages_keep_the_sites_strict_csp(app, staff_client):
    with app.app_context():
        site_policy = content_security_policy()
    assert "'unsafe-inline'" not in site_policy
    assert staff_client("admin").get("/admin/rq").headers["Content-Security-Policy"] == site_policy


@pytest.mark.parametrize("role", ["secretary", "doctor", "reporting"])
def test_other_staff_are_refused(app, staff_client, role):
    job_id = _fail_one_job(app)
    client = staff_client(role)
    assert client.get("/admin/rq").status_code == 403
    assert client.get("/admin/rq/default/failed").status_code == 403
    assert client.get(f"/admin/rq/jobs/{job_id}").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/rq")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_nothing_here_changes_a_job(app, staff_client):
    admin = staff_client("admin")
    assert admin.post("/admin/rq").status_code == 405
    assert admin.post("/admin/rq/default/failed").status_code == 405


def _status(app, job_id):
    from rq.job import Job

    with app.app_context():
        return Job.fetch(job_id, connection=redis_client()).get_status()


def test_an_admin_runs_a_failed_job_again_and_it_is_audited(app, staff_client):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.security.models import AuditEvent

    job_id = _fail_one_job(app)
    admin = staff_client("admin")
    page = admin.get(f"/admin/rq/jobs/{job_id}").get_data(as_text=True)
    assert "Run again" in page
    response = admin.post(f"/admin/rq/jobs/{job_id}/requeue", data={"csrf_token": admin.csrf})
    assert response.status_code == 302 and _status(app, job_id) == "queued"
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ops.job_requeued"))
    assert event.details["job_id"] == job_id and event.details["queue"] == "default"
    again = admin.post(f"/admin/rq/jobs/{job_id}/requeue", data={"csrf_token": admin.csrf}, follow_redirects=True)
    assert "Only a failed job" in again.get_data(as_text=True)


def test_running_a_job_again_needs_the_token_and_an_admin(app, staff_client):
    job_id = _fail_one_job(app)
    admin = staff_client("admin")
    assert admin.post(f"/admin/rq/jobs/{job_id}/requeue").status_code == 400  # no CSRF token
    secretary = staff_client("secretary")
    assert secretary.post(f"/admin/rq/jobs/{job_id}/requeue", data={"csrf_token": secretary.csrf}).status_code == 403
    assert admin.post("/admin/rq/jobs/no-such-job/requeue", data={"csrf_token": admin.csrf}).status_code == 404
    assert _status(app, job_id) == "failed"
