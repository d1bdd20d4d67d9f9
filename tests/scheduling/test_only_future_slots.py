"""Slot search and every booking page offer only slots that start in the future: on the morning of
DIARY_MONDAY (slots 09:00-12:00 every 15 minutes, London = UTC in January), at 10:05 the 09:00-10:00
slots have begun and are offered nowhere, although nobody booked them. (FHIR: tests/fhir/test_slots.py.)"""

import time_machine

from portal.scheduling import services
from tests.conftest import DIARY_MONDAY, slot_ids

MID_MORNING = f"{DIARY_MONDAY}T10:05:00Z"  # the 10:00 slot has begun, 10:15 is the next


def test_a_window_that_begins_later_is_kept_as_asked(app, diary_set_up):
    from datetime import datetime

    with app.app_context(), time_machine.travel(MID_MORNING, tick=True):
        later = services.search_slots(diary_set_up["service_id"], start_from=datetime(2030, 1, 7, 11, 0))
        assert [slot.start.strftime("%H:%M") for slot in later[:2]] == ["11:00", "11:15"]
        everything = services.search_slots(diary_set_up["service_id"])
        assert everything[0].start == datetime(2030, 1, 7, 10, 15)


def test_the_diary_offers_booking_only_for_slots_that_have_not_started(app, staff_client, diary_set_up):
    first, *_ = slot_ids(app)
    with time_machine.travel(MID_MORNING, tick=True):
        secretary = staff_client("secretary")
        html = secretary.get(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}").get_data(as_text=True)
        assert html.count("Started: no longer bookable") == 5  # 09:00, 09:15, 09:30, 09:45, 10:00
        assert html.count(">Book<span") == 7
        assert f'href="/slots/{first}/book"' not in html
        page = secretary.get(f"/slots/{first}/book")
        assert page.status_code == 409
        body = page.get_data(as_text=True)
        assert "already started" in body and 'name="national_id"' not in body
