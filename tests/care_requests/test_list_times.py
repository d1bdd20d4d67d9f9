"""Partner users read each care request's times where its care happens: the service's clinic zone."""

import re
from datetime import datetime

from portal.extensions import db
from tests.conftest import service_in_zone


def test_the_partner_list_and_page_show_times_in_the_services_zone(app, partners, partner_client):
    from portal.care_requests.models import CareRequest

    care_request_id = partners["northside"]["care_request_id"]
    with app.app_context():
        care_request = db.session.get(CareRequest, care_request_id)
        care_request.healthcare_service_id = service_in_zone("Europe/Oslo", "NO003")
        care_request.created_at = datetime(2030, 6, 4, 23, 30)  # 01:30 on 5 June in Oslo, 00:30 in London
        care_request.handled_at = datetime(2030, 6, 5, 6, 0)    # 08:00 in Oslo
        care_request.status = "declined"
        db.session.commit()
    viewer = partner_client("northside", "viewer")
    listed = viewer.get("/partner/care-requests?tab=past").get_data(as_text=True)
    row = re.search(rf'<tr id="care-request-{care_request_id}">(.*?)</tr>', listed, re.S).group(1)
    shown = re.search(r"<time[^>]*>(.*?)</time>", row).group(1)
    assert "01:30 CEST" in shown and "00:30" not in shown
    page = viewer.get(f"/partner/care-requests/{care_request_id}").get_data(as_text=True)
    assert "08:00 CEST" in page and "declined" in page
