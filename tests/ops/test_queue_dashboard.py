"""rq-dashboard at /admin/rq: admins only, its buttons work from its own pages only, and its relaxed CSP stays
on its own paths."""

import pytest
from rq import Queue

from portal.extensions import redis_client
from portal.security.auth import content_security_policy


def test_admins_see_the_queues(app, staff_client):
    with app.app_context():
        Queue("notifications", connection=redis_client()).enqueue("os.getpid")
    admin = staff_client("admin")
    page = admin.get("/admin/rq/")
    assert page.status_code == 200 and b"<title>RQ dashboard</title>" in page.data
    queues = admin.get("/admin/rq/0/data/queues.json").get_json()["queues"]
    assert {"name": "notifications", "count": 1} in [{"name": q["name"], "count": q["count"]} for q in queues]


def test_the_relaxed_csp_is_only_on_the_dashboards_paths(app, staff_client):
    admin = staff_client("admin")
    assert "'unsafe-inline'" in admin.get("/admin/rq/").headers["Content-Security-Policy"]
    with app.app_context():
        site_policy = content_security_policy()
    assert "'unsafe-inline'" not in site_policy
    assert admin.get("/dashboard").headers["Content-Security-Policy"] == site_policy


@pytest.mark.parametrize("role", ["secretary", "doctor", "reporting"])
def test_other_staff_are_refused(staff_client, role):
    client = staff_client(role)
    assert client.get("/admin/rq/").status_code == 403
    assert client.get("/admin/rq/0/data/queues.json").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/rq/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_redis_instance_number_is_not_found(staff_client):
    assert staff_client("admin").get("/admin/rq/7/view/queues").status_code == 404


def failed_job(app) -> str:
    """A job that failed in a worker: sqrt(-1) raises."""
    from rq import SimpleWorker

    with app.app_context():
        queue = Queue("default", connection=redis_client())
        job = queue.enqueue("math.sqrt", -1)
        SimpleWorker([queue], connection=redis_client()).work(burst=True, with_scheduler=False)
        assert job.get_status(refresh=True) == "failed"
        return job.id


def _status(app, job_id):
    from rq.job import Job

    with app.app_context():
        return Job.fetch(job_id, connection=redis_client()).get_status()


SAME_ORIGIN = {"Origin": "http://localhost", "X-Requested-With": "XMLHttpRequest"}


def test_an_admin_requeues_a_failed_job_with_the_dashboards_button(app, staff_client):
    job_id = failed_job(app)
    admin = staff_client("admin")
    response = admin.post(f"/admin/rq/job/{job_id}/requeue", headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert _status(app, job_id) == "queued"


def test_changes_from_anywhere_but_the_dashboards_own_pages_are_refused(app, staff_client):
    job_id = failed_job(app)
    admin = staff_client("admin")
    assert admin.get("/admin/rq/requeue/default").status_code == 405  # a link must change nothing
    assert admin.post(f"/admin/rq/job/{job_id}/requeue").status_code == 403  # a plain form post
    foreign = {"Origin": "https://evil.example", "X-Requested-With": "XMLHttpRequest"}
    assert admin.post(f"/admin/rq/job/{job_id}/requeue", headers=foreign).status_code == 403
    no_header = {"Origin": "http://localhost"}
    assert admin.post(f"/admin/rq/job/{job_id}/requeue", headers=no_header).status_code == 403
    assert admin.post("/admin/rq/queue/default/failed/empty", headers=foreign).status_code == 403
    assert _status(app, job_id) == "failed"


@pytest.mark.parametrize("role", ["secretary", "doctor", "reporting"])
def test_other_staff_cannot_press_the_buttons(app, staff_client, role):
    job_id = failed_job(app)
    assert staff_client(role).post(f"/admin/rq/job/{job_id}/requeue", headers=SAME_ORIGIN).status_code == 403
    assert _status(app, job_id) == "failed"


def test_signed_out_posts_change_nothing(app, client):
    job_id = failed_job(app)
    assert client.post(f"/admin/rq/job/{job_id}/requeue", headers=SAME_ORIGIN).status_code == 302
    assert _status(app, job_id) == "failed"
