"""The patient record: details, one history, earlier reports, audited reads, bounded SQL."""

import re
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import event, select

from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import PATIENT_FNR
from tests.patient_record.conftest import DOCTOR_EMAIL, add_messages


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                        .order_by(AuditEvent.id)))
        db.session.expunge_all()
        return found


def test_the_record_shows_the_details_with_the_national_id_masked(app, staff_client, history):
    client = staff_client("secretary")
    response = client.get(f"/patients/{history['patient_id']}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<h1 id=\"record-heading\">Line Danser</h1>" in html
    assert "13 November 1969" in html
    assert PATIENT_FNR not in html
    assert "•••••••••16" in html
    assert 'href="tel:+4712345678"' in html
    assert "line.danser@example.com" in html
    assert "Norwegian (bokmål)" in html
    assert "Insurer referral; Partner: Northside Care" in html
    assert "(referred by an insurer: never)" in html


def test_show_reveals_the_national_id_as_its_own_audited_read(app, staff_client, history):
    client = staff_client("secretary")
    response = client.post(f"/patients/{history['patient_id']}/national-id", data={"csrf_token": client.csrf},
                           headers={"HX-Request": "true", "HX-Target": "national-id"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert PATIENT_FNR in html
    assert "<h1" not in html  # just the part htmx swaps
    [shown] = events(app, "patient.national_id_viewed")
    assert (shown.patient_id, shown.actor_type, shown.actor_id) == (history["patient_id"], "staff",
                                                                    str(history["secretary_id"]))


def test_show_without_the_csrf_token_is_refused_and_reveals_nothing(app, staff_client, history):
    client = staff_client("secretary")
    response = client.post(f"/patients/{history['patient_id']}/national-id", data={})
    assert response.status_code == 400
    assert PATIENT_FNR not in response.get_data(as_text=True)
    assert events(app, "patient.national_id_viewed") == []


def test_show_works_without_htmx_and_returns_the_whole_record(app, staff_client, history):
    client = staff_client("secretary")
    response = client.post(f"/patients/{history['patient_id']}/national-id", data={"csrf_token": client.csrf})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and PATIENT_FNR in html and "History with the clinic" in html


def kinds_in_order(html: str) -> list[str]:
    return re.findall(r'class="history-entry history-([a-z_]+)"', html)


def test_the_history_lists_everything_newest_first_in_one_list(app, staff_client, history):
    html = staff_client("secretary").get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    kinds = kinds_in_order(html)
    # The 2030 appointment leads (upcoming first); the referral came before everything it led to.
    assert kinds[0] == "appointment"
    assert kinds[-1] == "referral"
    assert {"consultation", "travel_claim", "care_request", "message"} <= set(kinds)
    assert kinds.count("consultation") == 3
    # The call log: outcomes and who, but never the sealed notes.
    assert "No answer" in html and "Reached" in html and "Test Secretary" in html
    assert "Rang twice" not in html and "Prefers video" not in html
    assert "Completed" in html and "Dr. Ada Lind" in html and "Cancelled" in html
    assert "Filed (in process)" in html and "claim number TC-0042" in html
    assert "Care request from Northside Care" in html and "Chest pain needs a clinician" in html
    assert "checked in" in html and "details to update at the front desk" in html
    assert "consultation.completed" in html  # the thank-you e-mail, named by kind; its text stays sealed
    assert "Tell us how it went" not in html


def test_each_entry_links_to_its_own_page_where_the_viewer_may_open_it(app, staff_client, history):
    secretary = staff_client("secretary").get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    assert f'href="/referrals/{history["referral_id"]}"' in secretary
    assert f'href="/consultations/{history["completed_id"]}"' in secretary
    assert f'href="/schedules/{history["schedule_id"]}?day=2030-01-07"' in secretary
    assert f'href="/triage/{history["care_request_id"]}"' in secretary
    assert 'href="/travel-claims"' in secretary
    assert 'href="/notifications?status=' in secretary
    doctor = staff_client("doctor", DOCTOR_EMAIL).get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    # Doctors have no referral, diary, triage or message pages: those entries are text for them.
    assert "/referrals/" not in doctor and "/schedules/" not in doctor and "/triage/" not in doctor
    assert f'href="/consultations/{history["completed_id"]}"' in doctor
    assert f'href="/consultations/{history["queued_id"]}"' in doctor


def test_a_secretary_sees_that_a_report_exists_never_what_it_says(app, staff_client, history):
    html = staff_client("secretary").get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    assert "Report filed" in html
    assert "Viral sore throat" not in html and "R74" not in html
    assert "/report" not in html
    assert events(app, "consultation_result.read") == []


def test_a_doctor_opens_an_earlier_report_with_a_reason_and_the_read_is_audited(app, staff_client, history):
    client = staff_client("doctor", DOCTOR_EMAIL)
    page = client.get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    url = f"/patients/{history['patient_id']}/consultations/{history['completed_id']}/report"
    assert f'href="{url}"' in page
    asked = client.get(url, headers={"HX-Request": "true"})
    assert asked.status_code == 200
    assert "Why are you opening this report?" in asked.get_data(as_text=True)
    assert "Viral sore throat" not in asked.get_data(as_text=True)

    no_reason = client.post(url, data={"csrf_token": client.csrf})
    assert no_reason.status_code == 422
    assert "Choose why you are opening the report." in no_reason.get_data(as_text=True)
    assert "Viral sore throat" not in no_reason.get_data(as_text=True)
    made_up = client.post(url, data={"csrf_token": client.csrf, "reason": "curious"})
    assert made_up.status_code == 422
    assert events(app, "consultation_result.read") == []

    opened = client.post(url, data={"csrf_token": client.csrf, "reason": "follow_up"})
    assert opened.status_code == 200
    assert opened.headers["Cache-Control"] == "no-store"
    html = opened.get_data(as_text=True)
    assert "Viral sore throat; rest and fluids." in html and "R74" in html
    assert "Opened because: Following up earlier care." in html
    [read] = events(app, "consultation_result.read")
    assert read.details == {"reason": "follow_up", "via": "patient_record"}
    assert (read.patient_id, read.actor_id) == (history["patient_id"], str(history["doctor_id"]))


def test_every_view_of_the_record_is_audited(app, staff_client, history):
    client = staff_client("doctor", DOCTOR_EMAIL)
    client.get(f"/patients/{history['patient_id']}")
    client.get(f"/patients/{history['patient_id']}/consultations/{history['completed_id']}/report")
    viewed = events(app, "patient.record_viewed")
    assert [(e.patient_id, e.actor_id, e.details) for e in viewed] == [
        (history["patient_id"], str(history["doctor_id"]), {"page": 1}),
        (history["patient_id"], str(history["doctor_id"]),
         {"part": "report_reason", "consultation_id": history["completed_id"]}),
    ]


def test_older_entries_come_a_page_at_a_time(app, staff_client, history):
    add_messages(app, history["patient_id"], 60)
    client = staff_client("secretary")
    first = client.get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    assert len(kinds_in_order(first)) == 50
    older = f"/patients/{history['patient_id']}?page=2"
    assert f'hx-get="{older}"' in first
    fragment = client.get(older, headers={"HX-Request": "true", "HX-Target": "history-more"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<h1" not in html and "Line Danser" not in html
    second = kinds_in_order(html)
    assert 0 < len(second) <= 50 and second[-1] == "referral"
    assert "Older entries" not in html
    assert [e.details["page"] for e in events(app, "patient.record_viewed")] == [1, 2]
    whole = client.get(older).get_data(as_text=True)
    assert "Newer entries" in whole and kinds_in_order(whole) == second


@contextmanager
def counting_statements(app):
    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def add_consultations(app, patient_id: int, count: int, created_at) -> None:
    from portal.consultations.services import create_consultation

    with app.app_context():
        for _ in range(count):
            consultation = create_consultation(patient_id=patient_id, source="referral", enabled_channels=["CHAT"],
                                               primary_channel="CHAT")
            consultation.created_at = created_at
        db.session.commit()


def test_the_page_costs_the_same_statements_however_long_the_history(app, staff_client, history):
    client = staff_client("doctor", DOCTOR_EMAIL)
    url = f"/patients/{history['patient_id']}"
    client.get(url)  # warm: the first request of a client loads what later ones reuse
    with counting_statements(app) as small:
        assert client.get(url).status_code == 200
    # Older than the referral: the page still holds every kind, now with many more entries of two of them.
    long_ago = datetime(2020, 1, 1)
    add_messages(app, history["patient_id"], 20, created_at=long_ago)
    add_consultations(app, history["patient_id"], 20, created_at=long_ago)
    with counting_statements(app) as large:
        assert client.get(url).status_code == 200
    assert kinds_in_order(client.get(url).get_data(as_text=True)).count("consultation") == 23
    # One query per kind of entry on the page, never one per entry: no N+1.
    assert len(large) == len(small), "\n".join(large)
    # 20 today: sign-in and idle check, the patient and who treats them, two for the details, the page of
    # entries, one per kind (+ the call log and two for follow-ups), and the audit write. Headroom for the
    # requests' own hooks to grow; what must not happen is the count growing with the history.
    assert len(large) <= 24, "\n".join(large)


def test_the_record_is_reached_from_the_consultation_referral_queue_search_diary_and_triage(
        app, staff_client, history, post_referral, seed_referral):
    record = f'href="/patients/{history["patient_id"]}"'
    doctor = staff_client("doctor", DOCTOR_EMAIL)
    assert record in doctor.get(f"/consultations/{history['completed_id']}").get_data(as_text=True)
    # Another doctor may pick the queued consultation, so its page links the record too.
    other = staff_client("doctor", "other-doctor@test.example")
    assert record in other.get(f"/consultations/{history['queued_id']}").get_data(as_text=True)

    secretary = staff_client("secretary")
    assert record in secretary.get(f"/referrals/{history['referral_id']}").get_data(as_text=True)
    # A new referral for the same patient waits in the queue; searching for her finds the record.
    again = dict(seed_referral, JournalGuid="5b0e8f7e-1d5c-4c55-9a0c-8d2b7a3f4e11")
    assert post_referral(again).status_code == 201
    found = secretary.post("/queue", data={"csrf_token": secretary.csrf, "q": "Danser"}).get_data(as_text=True)
    assert record in found
    assert record in secretary.get(f"/schedules/{history['schedule_id']}?day=2030-01-07").get_data(as_text=True)
    assert record in secretary.get("/triage").get_data(as_text=True)
    assert record in secretary.get(f"/triage/{history['care_request_id']}").get_data(as_text=True)


def test_a_doctor_who_may_not_open_the_record_is_not_offered_a_link_to_it(app, staff_client, history):
    from portal.consultations import services

    with app.app_context():  # the waiting consultation is taken by the treating doctor: nothing left to pick
        services.pick_consultation(services.get_consultation(history["queued_id"]), doctor_id=history["doctor_id"])
    other = staff_client("doctor", "other-doctor@test.example")
    # The cancelled consultation never had a doctor, so any doctor may look at it, but it makes nobody
    # the patient's doctor: its page does not link to a record that would answer 404.
    cancelled = other.get(f"/consultations/{history['cancelled_id']}")
    assert cancelled.status_code == 200 and "Cancelled" in cancelled.get_data(as_text=True)
    assert "/patients/" not in cancelled.get_data(as_text=True)
    assert other.get(f"/patients/{history['patient_id']}").status_code == 404


def test_the_check_in_time_is_the_appointments_own_clock_not_utc(app, staff_client, history):
    html = staff_client("secretary").get(f"/patients/{history['patient_id']}").get_data(as_text=True)
    start = re.search(r"<time datetime=\"[^\"]+Z\">[^<]*, (\d\d):(\d\d) \([A-Za-z_/]+\)</time>", html)
    hour, minute = divmod(int(start[1]) * 60 + int(start[2]) - 10, 60)  # checked in ten minutes before
    assert f"checked in {hour:02d}:{minute:02d}" in html
    assert not re.search(r"checked in \d\d:\d\d UTC", html)
