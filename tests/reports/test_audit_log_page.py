"""Admins browse the audit log: who read which patient's data, when; filtered and paged."""

from sqlalchemy import select

from portal.extensions import db
from portal.security import audit
from portal.security.models import AuditEvent, StaffUser


def _events(app, actor_email: str, n: int, patient_id=None, action="consultation_result.read"):
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == actor_email))
        for _ in range(n):
            audit.record(action, patient_id=patient_id, actor=("staff", str(user.id)))
        db.session.commit()


def test_only_admins_may_browse_the_audit_log(app, staff_client, client):
    for role in ("secretary", "doctor", "reporting"):
        assert staff_client(role).get("/admin/audit").status_code == 403
    signed_out = client.get("/admin/audit")
    assert signed_out.status_code == 302 and signed_out.headers["Location"].startswith("/login")


def test_admin_sees_who_did_what_newest_first(app, staff_client):
    admin = staff_client("admin")
    _events(app, "admin@test.example", 1, action="test.first")
    _events(app, "admin@test.example", 1, action="test.second")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "Test Admin" in page
    assert page.index("test.second") < page.index("test.first")


def test_filter_by_staff_member_and_action_prefix(app, staff_client):
    admin = staff_client("admin")
    from tests.conftest import make_staff
    doctor_id = make_staff(app, "doctor")
    _events(app, "doctor@test.example", 2, action="consultation_result.read")
    _events(app, "admin@test.example", 1, action="consultation.assigned")
    page = admin.get(f"/admin/audit?staff={doctor_id}&action=consultation_result").get_data(as_text=True)
    assert "2 events" in page
    assert "consultation.assigned" not in page.split("<table")[1]


def test_filter_by_patient_uses_the_patient_column(app, staff_client):
    admin = staff_client("admin")
    page = admin.get("/admin/audit?patient=424242").get_data(as_text=True)
    assert "0 events" in page


def test_browsing_the_log_is_itself_audited(app, staff_client):
    admin = staff_client("admin")
    admin.get("/admin/audit?action=consultation")
    with app.app_context():
        browsed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.browsed")).all()
        assert len(browsed) == 1
        assert browsed[0].details["action_filter"] == "consultation"


def test_the_log_is_paged_fifty_at_a_time(app, staff_client):
    admin = staff_client("admin")
    _events(app, "admin@test.example", 60, action="test.many")
    first = admin.get("/admin/audit?action=test.many").get_data(as_text=True)
    assert "60 events, page 1 of 2" in first and 'rel="next"' in first
    second = admin.get("/admin/audit?action=test.many&page=2").get_data(as_text=True)
    assert "page 2 of 2" in second and 'rel="prev"' in second
    assert second.count("<td><span translate=\"no\">test.many</span></td>") == 10


def test_bad_filter_input_is_a_400_with_the_errors_shown_never_a_500(app, staff_client):
    admin = staff_client("admin")
    for query in ("patient=abc", "patient=99999999999999999999", "since=2026-13-45", "page=-1", "page=99999999",
                  "staff=not-a-number", "since=2026-05-02&until=2026-05-01", "action=" + "x" * 500):
        response = admin.get(f"/admin/audit?{query}")
        assert response.status_code == 400, query
        assert 'class="error"' in response.get_data(as_text=True), query


def test_date_filter_includes_the_whole_last_day(app, staff_client):
    admin = staff_client("admin")
    _events(app, "admin@test.example", 1, action="test.today")
    with app.app_context():
        at = db.session.scalar(select(AuditEvent.at).where(AuditEvent.action == "test.today"))
    day = at.date().isoformat()
    page = admin.get(f"/admin/audit?action=test.today&since={day}&until={day}").get_data(as_text=True)
    assert "1 event," in page
