"""The consultation life cycle as services: the rules, the races, the times."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.consultations import services
from portal.consultations.models import Consultation, PatientLink
from portal.extensions import db
from portal.notifications.models import Notification
from portal.security.models import AuditEvent
from tests.conftest import make_consultation, make_staff


def load(cid):
    return db.session.get(Consultation, cid, populate_existing=True)


def test_doctor_picks_an_unassigned_consultation_and_the_patient_is_invited_to_wait(app, app_ctx):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    services.pick_consultation(load(cid), doctor_id=doctor)
    c = load(cid)
    assert c.state == "pending_sp" and c.service_provider_id == doctor and c.assigned_at is not None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "consultation.picked"))
    waiting = db.session.scalars(select(Notification).where(Notification.kind == "consultation.waiting")).all()
    assert {n.channel for n in waiting} == {"sms", "email"} and "/c/" in waiting[0].body


def test_second_doctor_cannot_pick_a_taken_consultation(app, app_ctx):
    first, second = make_staff(app, "doctor", "d1@test.example"), make_staff(app, "doctor", "d2@test.example")
    cid = make_consultation(app)
    services.pick_consultation(load(cid), doctor_id=first)
    with pytest.raises(services.AlreadyTaken, match="cannot be picked"):
        services.pick_consultation(load(cid), doctor_id=second)
    assert load(cid).service_provider_id == first


def test_two_doctors_picking_at_once_exactly_one_wins(app):
    doctors = [make_staff(app, "doctor", f"race{i}@test.example") for i in range(6)]
    cid = make_consultation(app)
    outcomes, barrier = [], threading.Barrier(len(doctors))

    def pick(doctor_id):
        with app.app_context():
            consultation = db.session.get(Consultation, cid)
            db.session.commit()  # end the read (on SQLite it holds the write lock outside requests)
            barrier.wait()
            try:
                services.pick_consultation(consultation, doctor_id=doctor_id)
                outcomes.append(("won", doctor_id))
            except services.AlreadyTaken:
                outcomes.append(("lost", doctor_id))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pick, args=(d,)) for d in doctors]
    [t.start() for t in threads]
    [t.join() for t in threads]
    winners = [d for result, d in outcomes if result == "won"]
    assert len(winners) == 1 and len(outcomes) == 6
    with app.app_context():
        assert db.session.get(Consultation, cid).service_provider_id == winners[0]
        picked = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == "consultation.picked"))
        assert picked == 1


def test_secretary_assigns_and_reassigns_before_start(app, app_ctx):
    secretary = make_staff(app, "secretary")
    d1, d2 = make_staff(app, "doctor", "d1@test.example"), make_staff(app, "doctor", "d2@test.example")
    cid = make_consultation(app)
    services.assign_consultation(load(cid), doctor_id=d1, by_id=secretary)
    services.assign_consultation(load(cid), doctor_id=d2, by_id=secretary)
    assert load(cid).state == "pending_sp" and load(cid).service_provider_id == d2


def test_only_a_doctor_can_be_assigned(app, app_ctx):
    secretary = make_staff(app, "secretary")
    cid = make_consultation(app)
    with pytest.raises(services.InvalidConsultation):
        services.assign_consultation(load(cid), doctor_id=secretary, by_id=secretary)
    with pytest.raises(services.InvalidConsultation):
        services.assign_consultation(load(cid), doctor_id=999999, by_id=secretary)
    assert load(cid).state == "ready_for_pickup"


def test_start_needs_a_picked_consultation(app, app_ctx, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    with pytest.raises(services.NotAllowedNow, match="cannot be started: it is waiting in the queue"):
        services.start_consultation(load(cid), doctor_id=doctor)
    assert sandbox.chat_rooms == {}


def test_only_the_assigned_doctor_may_start(app, app_ctx, sandbox):
    d1, d2 = make_staff(app, "doctor", "d1@test.example"), make_staff(app, "doctor", "d2@test.example")
    cid = make_consultation(app)
    services.pick_consultation(load(cid), doctor_id=d1)
    with pytest.raises(services.NotAllowedNow, match="assigned to another doctor"):
        services.start_consultation(load(cid), doctor_id=d2)
    assert load(cid).state == "pending_sp"


def test_start_makes_rooms_link_and_messages(app, app_ctx, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    services.pick_consultation(load(cid), doctor_id=doctor)
    services.start_consultation(load(cid), doctor_id=doctor)
    c = load(cid)
    assert c.state == "in_progress" and c.starts_at is not None
    chat, video = services.chat_room_of(c), services.video_room_of(c)
    assert chat.external_id in sandbox.chat_rooms and chat.shared_secret
    assert video.name.startswith(f"C-{c.code}-") and video.name in sandbox.video_rooms
    link = db.session.scalars(select(PatientLink).where(PatientLink.consultation_id == cid)
                              .order_by(PatientLink.id.desc())).first()
    assert link.patient_id == c.patient_id and link.expires_at > c.starts_at + timedelta(hours=1)
    kinds = {(n.channel, n.kind) for n in db.session.scalars(select(Notification))}
    assert kinds == {("sms", "consultation.waiting"), ("email", "consultation.waiting"),
                     ("sms", "consultation.link"), ("email", "consultation.link")}
    assert len(link.token_hash) == 64  # only the hash is stored; the raw token is in the message


def test_start_does_nothing_when_the_chat_service_is_down(app, app_ctx, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    services.pick_consultation(load(cid), doctor_id=doctor)
    sandbox.failures["chat"] = "5xx"
    with pytest.raises(services.ServiceUnavailable):
        services.start_consultation(load(cid), doctor_id=doctor)
    assert load(cid).state == "pending_sp"
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.kind == "consultation.link")) == 0
    sandbox.failures["chat"] = "ok"
    services.start_consultation(load(cid), doctor_id=doctor)  # trying again works
    assert load(cid).state == "in_progress"


def started(app, sandbox, channels=("CHAT", "VIDEO")):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app, channels=channels, primary=channels[0])
    services.pick_consultation(load(cid), doctor_id=doctor)
    services.start_consultation(load(cid), doctor_id=doctor)
    return doctor, cid


def test_finish_records_duration_and_queues_the_completion_mail(app, app_ctx, sandbox):
    doctor, cid = started(app, sandbox)
    services.finish_consultation(load(cid), doctor_id=doctor)
    c = load(cid)
    assert c.state == "completed" and c.ends_at >= c.starts_at
    assert c.waiting_time == c.starts_at - c.created_at
    assert c.treatment_duration == c.ends_at - c.starts_at
    assert db.session.scalar(select(Notification).where(Notification.kind == "consultation.completed")).channel \
        == "email"


def test_finish_twice_is_refused(app, app_ctx, sandbox):
    doctor, cid = started(app, sandbox)
    services.finish_consultation(load(cid), doctor_id=doctor)
    with pytest.raises(services.NotAllowedNow, match="already completed"):
        services.finish_consultation(load(cid), doctor_id=doctor)


def test_cancel_needs_a_reason_and_tells_the_patient(app, app_ctx):
    secretary = make_staff(app, "secretary")
    cid = make_consultation(app)
    with pytest.raises(services.InvalidConsultation):
        services.cancel_consultation(load(cid), reason="  ", by_id=secretary)
    services.cancel_consultation(load(cid), reason="Patient asked", by_id=secretary)
    c = load(cid)
    assert c.state == "cancelled" and c.cancelled_at and c.cancel_reason == "Patient asked"
    assert {n.kind for n in db.session.scalars(select(Notification))} == {"consultation.cancelled"}
    with pytest.raises(services.NotAllowedNow, match="it was cancelled"):
        services.cancel_consultation(load(cid), reason="again", by_id=secretary)


def test_a_completed_consultation_cannot_be_cancelled_or_picked(app, app_ctx, sandbox):
    doctor, cid = started(app, sandbox)
    services.finish_consultation(load(cid), doctor_id=doctor)
    with pytest.raises(services.NotAllowedNow):
        services.cancel_consultation(load(cid), reason="late", by_id=doctor)
    with pytest.raises(services.NotAllowedNow):
        services.pick_consultation(load(cid), doctor_id=doctor)


def test_waiting_time_grows_until_started(app, app_ctx):
    cid = make_consultation(app)
    c = load(cid)
    c.created_at = c.created_at - timedelta(minutes=30)
    db.session.commit()
    assert load(cid).waiting_time >= timedelta(minutes=30)
    assert load(cid).treatment_duration is None


def test_queue_views_oldest_first(app, app_ctx):
    doctor, other = make_staff(app, "doctor"), make_staff(app, "doctor", "other@test.example")
    a, b, c = (make_consultation(app) for _ in range(3))
    services.pick_consultation(load(b), doctor_id=doctor)
    services.pick_consultation(load(c), doctor_id=other)
    all_open = services.doctor_queue(view="all", doctor_id=doctor)
    assert [x.id for x in all_open.consultations] == [a, b, c]
    assert [x.id for x in services.doctor_queue(view="mine", doctor_id=doctor).consultations] == [b]
    assert [x.id for x in services.doctor_queue(view="unassigned", doctor_id=doctor).consultations] == [a]
    assert services.doctor_queue(view="nonsense", doctor_id=doctor).view == "all"


def test_unknown_source_is_refused(app, app_ctx):
    from tests.conftest import make_patient

    pid = make_patient(app)
    with pytest.raises(services.InvalidConsultation):
        services.create_consultation(patient_id=pid, source="fax", enabled_channels=["CHAT"], primary_channel="CHAT")


def test_queue_count_stops_at_the_cap(app, app_ctx, monkeypatch):
    monkeypatch.setattr(services, "QUEUE_COUNT_CAP", 3)
    doctor = make_staff(app, "doctor")
    for _ in range(5):
        make_consultation(app)
    page = services.doctor_queue(view="all", doctor_id=doctor, per_page=2)
    assert (page.total, page.more, page.pages, len(page.consultations)) == (3, True, 2, 2)


def test_a_page_past_the_end_shows_the_last_one(app, app_ctx):
    doctor = make_staff(app, "doctor")
    a, b, c = (make_consultation(app) for _ in range(3))
    for view in ("all", "unassigned"):
        page = services.doctor_queue(view=view, doctor_id=doctor, page=9, per_page=2)
        assert (page.page, page.pages, page.total, [x.id for x in page.consultations]) == (2, 2, 3, [c])
    mine = services.doctor_queue(view="mine", doctor_id=doctor, page=9, per_page=2)
    assert (mine.page, mine.pages, mine.total, mine.consultations) == (1, 1, 0, [])
