"""The triage list shows when each request came in where its care happens: the service's clinic zone."""

import re
from datetime import date, datetime, time

from portal.extensions import db


def _service_in(zone: str, code: str) -> int:
    from portal.scheduling import services as scheduling

    schedule = scheduling.set_up_schedule(name=f"Diary {code}", service_name=f"Service {code}",
                                          organisation_code=code, location_name=f"Clinic {code}",
                                          timezone_name=zone)
    scheduling.add_weekly_template(schedule.id, weekday=0, start_time=time(9), end_time=time(10), slot_minutes=30)
    scheduling.generate_slots(schedule.id, date(2030, 6, 3), date(2030, 6, 3))
    return schedule.healthcare_service_id


def test_a_triage_request_time_is_shown_in_its_services_zone(app, partners, staff_client):
    from portal.care_requests.models import CareRequest

    care_request_id = partners["northside"]["care_request_id"]
    with app.app_context():
        care_request = db.session.get(CareRequest, care_request_id)
        care_request.healthcare_service_id = _service_in("Europe/Oslo", "NO002")
        care_request.created_at = datetime(2030, 6, 4, 23, 30)  # 01:30 on 5 June in Oslo, 00:30 in London
        db.session.commit()
    html = staff_client("secretary").get("/triage").get_data(as_text=True)
    row = re.search(rf'<tr id="triage-{care_request_id}">(.*?)</tr>', html, re.S).group(1)
    assert '<time datetime="2030-06-04T23:30:00Z">' in row
    shown = re.search(r"<time[^>]*>(.*?)</time>", row).group(1)
    # The install's zone here is Europe/London, so the Oslo time carries its abbreviation.
    assert "01:30 CEST" in shown and "5" in shown and "00:30" not in shown


def test_a_request_without_a_service_is_shown_in_the_installs_zone(app, partners, staff_client):
    from portal.care_requests.models import CareRequest

    care_request_id = partners["northside"]["care_request_id"]
    with app.app_context():
        db.session.get(CareRequest, care_request_id).created_at = datetime(2030, 6, 4, 23, 30)
        db.session.commit()
    html = staff_client("secretary").get("/triage").get_data(as_text=True)
    row = re.search(rf'<tr id="triage-{care_request_id}">(.*?)</tr>', html, re.S).group(1)
    shown = re.search(r"<time[^>]*>(.*?)</time>", row).group(1)
    assert "00:30" in shown and "BST" not in shown and "CEST" not in shown
