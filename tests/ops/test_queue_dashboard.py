"""rq-dashboard at /admin/rq: admins only, read-only, and its relaxed CSP stays on its own paths."""

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


def test_changing_jobs_is_refused_even_for_admins(staff_client):
    admin = staff_client("admin")
    assert admin.get("/admin/rq/requeue/default").status_code == 405  # a link must change nothing
    assert admin.post("/admin/rq/requeue/default").status_code == 400  # no CSRF token
    assert admin.post("/admin/rq/queue/default/failed/empty").status_code == 400
