"""The triage list shows when each request came in where its care happens: the service's clinic zone."""

import re
from datetime import datetime

from portal.extensions import db
from tests.conftest import service_in_zone


def test_a_triage_request_time_is_shown_in_its_services_zone(app, partners, staff_client):
    from portal.care_requests.models import CareRequest

    care_request_id = partners["northside"]["care_request_id"]
    with app.app_context():
        care_request = db.session.get(CareRequest, care_request_id)
        care_request.healthcare_service_id = service_in_zone("Europe/Oslo", "NO002")
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
