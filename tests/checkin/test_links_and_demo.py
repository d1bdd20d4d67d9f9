"""Check-in links by SMS and e-mail (the day before and on the day, once each), the commands, the demo."""

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal.checkin.models import CheckinLink
from portal.extensions import db
from portal.notifications.models import Notification
from portal.scheduling.models import Appointment
from tests.checkin.conftest import book_appointment
from tests.conftest import run_notification_jobs


def test_links_go_out_the_day_before_and_on_the_day_once_each(app, clinic, checkin_patient, sandbox):
    from portal.checkin.services import send_checkin_links
    from portal.security.models import utcnow

    # Tomorrow 14:00 UTC; the clinic is in London, which is on UTC in winter and UTC+1 in summer.
    start = datetime.combine(utcnow().date() + timedelta(days=1), datetime.min.time()) + timedelta(hours=14)
    book_appointment(app, clinic, checkin_patient, start=start)
    day_before, on_the_day = start - timedelta(days=1), start - timedelta(hours=4)
    with app.app_context():
        assert send_checkin_links(start - timedelta(hours=12)) == 0  # 02:00 or 03:00: nobody is texted at night
        assert send_checkin_links(day_before) == 2  # SMS and e-mail
        assert send_checkin_links(day_before + timedelta(hours=1)) == 0
        assert send_checkin_links(on_the_day) == 2
        assert send_checkin_links(on_the_day + timedelta(minutes=15)) == 0
        assert sorted(db.session.scalars(select(CheckinLink.kind))) == ["day_before", "same_day"]
        assert sorted(db.session.scalars(select(Notification.kind).where(Notification.channel == "sms"))) == \
            ["checkin.day_before", "checkin.same_day"]
    run_notification_jobs(app)
    texts = [m["text"] for m in sandbox.sms]
    assert len(texts) == 2 and all(re.search(r"/checkin/[A-Za-z0-9_-]{43}", t) for t in texts)
    assert "tomorrow" in texts[0] and "today" in texts[1]
    assert all("Danser" not in t for t in texts)


def test_cancelled_appointments_get_no_link(app, clinic, checkin_patient):
    from portal.checkin.services import send_checkin_links
    from portal.scheduling.services import cancel_appointment

    appointment_id = book_appointment(app, clinic, checkin_patient, minutes_from_now=30)
    with app.app_context():
        cancel_appointment(appointment_id, actor=("staff", "1"))
        start = db.session.get(Appointment, appointment_id).start
        assert send_checkin_links(start - timedelta(minutes=20)) == 0


def test_commands_send_links_and_sweep_claims(app, clinic, checkin_patient):
    runner = app.test_cli_runner()
    assert "check-in message(s) queued" in runner.invoke(args=["send-checkin-links"]).output
    swept = runner.invoke(args=["sweep-travel-claims", "--stuck-after", "60"])
    assert swept.exit_code == 0 and "0 recovered, 0 queued" in swept.output


def test_demo_data_prints_a_working_check_in_link_and_books_once(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data"])
    second = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    link = re.search(r"https?://[^/\s]+(/checkin/[A-Za-z0-9_-]+)", second.output).group(1)
    assert client.get(link).status_code == 200
    with app.app_context():
        demo = db.session.scalar(select(func.count()).select_from(Appointment)
                                 .where(Appointment.description == "Demo appointment for check-in"))
        assert demo == 1
