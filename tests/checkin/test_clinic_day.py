""""Today" is the clinic's day, in the clinic's own time zone: late in the evening in UTC, and across
a daylight-saving change, the patient sees the appointments and times the clinic's clock gives."""

from datetime import datetime

import time_machine

from portal.checkin.services import send_checkin_links
from portal.extensions import db
from portal.notifications.models import Notification
from portal.scheduling.models import Location
from tests.checkin.conftest import book_appointment, make_checkin_patient, new_link, set_up_clinic
from tests.checkin.test_checkin_flow import sign_in


def at(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).replace(tzinfo=None)


def test_a_clinic_location_keeps_the_time_zone_it_was_set_up_in(app):
    clinic = set_up_clinic(app, time_zone="Europe/Oslo")
    with app.app_context():
        assert db.session.get(Location, clinic["location_id"]).time_zone == "Europe/Oslo"


def test_after_midnight_in_oslo_the_mornings_appointment_is_today_although_utc_is_still_yesterday(app, client):
    clinic = set_up_clinic(app, time_zone="Europe/Oslo")
    patient = make_checkin_patient(app)
    # 23:30 UTC on the 14th is 00:30 on the 15th in Oslo; the appointment is at 09:00 Oslo on the 15th.
    with time_machine.travel("2029-11-14T23:30:00Z", tick=True):
        appointment = book_appointment(app, clinic, patient, start=at("2029-11-15T08:00:00Z"))
        assert sign_in(client, new_link(app, patient)).status_code == 302
        page = client.get("/checkin/appointments").get_data(as_text=True)
        # The install's zone is London's (PORTAL_REGION GB), so Oslo's clock carries its abbreviation.
        assert "no appointments today" not in page and "opens at 08:15 CET. Come back then." in page
        assert "opens at 08:15 CET." in client.get(f"/checkin/appointments/{appointment}").get_data(as_text=True)


def test_late_in_the_evening_in_london_an_appointment_after_midnight_is_tomorrow(app, client):
    clinic = set_up_clinic(app)
    patient = make_checkin_patient(app)
    with time_machine.travel("2029-11-14T22:15:00Z", tick=True):
        book_appointment(app, clinic, patient, minutes_from_now=120)  # 00:15 on the 15th in London
        assert sign_in(client, new_link(app, patient)).status_code == 302
        assert "no appointments today" in client.get("/checkin/appointments").get_data(as_text=True)


def test_on_the_night_the_clocks_go_forward_times_are_told_in_summer_time(app, client):
    clinic = set_up_clinic(app)
    patient = make_checkin_patient(app)
    # London goes from 01:00 GMT to 02:00 BST at 01:00 UTC on 28 March 2027. At 00:30 (GMT) the
    # appointment at 08:00 UTC is at 09:00 BST, so check-in opens at 08:15 on the clinic's clock.
    with time_machine.travel("2027-03-28T00:30:00Z", tick=True):
        appointment = book_appointment(app, clinic, patient, start=at("2027-03-28T08:00:00Z"))
        assert sign_in(client, new_link(app, patient)).status_code == 302
        assert "opens at 08:15" in client.get(f"/checkin/appointments/{appointment}").get_data(as_text=True)


def test_in_oslo_the_night_the_clocks_go_forward_the_window_is_told_in_summer_time(app, client):
    clinic = set_up_clinic(app, time_zone="Europe/Oslo")
    patient = make_checkin_patient(app)
    # Oslo goes from 02:00 CET to 03:00 CEST at 01:00 UTC on 28 March 2027. At 00:30 UTC (01:30 CET) the
    # appointment at 07:00 UTC is at 09:00 CEST, so check-in opens at 08:15 CEST, not 07:15 CET.
    with time_machine.travel("2027-03-28T00:30:00Z", tick=True):
        appointment = book_appointment(app, clinic, patient, start=at("2027-03-28T07:00:00Z"))
        assert sign_in(client, new_link(app, patient)).status_code == 302
        page = client.get(f"/checkin/appointments/{appointment}").get_data(as_text=True)
        assert "opens at 08:15 CEST. Come back then." in page
        assert 'datetime="2027-03-28T07:00:00Z">28 Mar 2027, 09:00 CEST</time>' in page


def test_check_in_links_follow_the_clinics_day_and_not_its_night(app):
    clinic = set_up_clinic(app, time_zone="Europe/Oslo")
    patient = make_checkin_patient(app)
    with time_machine.travel("2029-11-14T12:00:00Z", tick=True):
        book_appointment(app, clinic, patient, start=at("2029-11-15T07:00:00Z"))  # 08:00 in Oslo on the 15th
    with app.app_context():
        # 00:30 in Oslo on the 15th: the same day by the clinic's clock, but night there: nothing is sent.
        assert send_checkin_links(at("2029-11-14T23:30:00Z")) == 0
        # 23:00 in Oslo on the 14th (22:00 UTC): the day before, by the clinic's clock.
        assert send_checkin_links(at("2029-11-14T22:00:00Z")) == 2
        texts = db.session.scalars(db.select(Notification.body).where(Notification.channel == "sms")).all()
        assert texts and "tomorrow at 08:00" in texts[0]
