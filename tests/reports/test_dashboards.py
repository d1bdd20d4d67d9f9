"""Dashboards: secretaries and admins see aggregates per period as SVG charts with the numbers in
tables; bad periods are a 400 page with the error beside the field; outcome counts are audited."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.referrals.models import Referral
from portal.security.models import AuditEvent
from tests.conftest import make_patient
from tests.reports.conftest import consultation_at as _consultation, filed_report as _report

DAY1 = datetime(2030, 3, 4, 9, 0)
DAY2 = DAY1 + timedelta(days=1)
PERIOD = {"since": "2030-03-04", "until": "2030-03-10"}


@pytest.fixture
def seeded(app, post_referral, seed_referral):
    """Two referrals on day 1 and one on day 2; four consultations on day 1 waiting 10, 20, 30 and
    40 minutes, two of them treated 15 and 25 minutes; one on day 2 never started; two reports."""
    for n in range(3):
        body = dict(seed_referral, JournalGuid=f"240b54a7-8c2a-4c3c-80a4-0bc63e2c94{n:02d}")
        assert post_referral(body).status_code == 201
    with app.app_context():
        ids = db.session.scalars(select(Referral.id).order_by(Referral.id)).all()
        for rid, when in zip(ids, (DAY1, DAY1, DAY2)):
            db.session.execute(update(Referral).where(Referral.id == rid).values(received_at=when))
        db.session.commit()
    patient_id = make_patient(app)
    first = _consultation(app, patient_id, DAY1, waited_minutes=10, treated_minutes=15)
    second = _consultation(app, patient_id, DAY1, waited_minutes=20, treated_minutes=25)
    _consultation(app, patient_id, DAY1, waited_minutes=30)
    _consultation(app, patient_id, DAY1, waited_minutes=40)
    _consultation(app, patient_id, DAY2)
    _report(app, first, "helped", DAY1 + timedelta(hours=2))
    _report(app, second, "referred_gp", DAY1 + timedelta(hours=3))


def _rows(html: str, caption: str) -> dict[str, list[str]]:
    """The body rows of the table with this caption: first cell → the other cells."""
    table = re.search(rf"<caption[^>]*>{re.escape(caption)}</caption>(.*?)</table>", html, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("role", ["secretary", "admin"])
def test_secretaries_and_admins_see_the_dashboards(staff_client, role):
    response = staff_client(role).get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'role="img"' in html
    assert 'aria-labelledby="chart-referrals-title" aria-describedby="chart-referrals-desc"' in html
    assert html.count('<svg class="chart"') == 6  # travel-claim outcomes too


@pytest.mark.parametrize("role", ["doctor", "reporting"])
def test_other_staff_may_not_see_the_dashboards(staff_client, role):
    assert staff_client(role).get("/dashboard").status_code == 403


def test_partner_users_may_not_see_the_dashboards(partner_client):
    assert partner_client("northside", "partner_admin").get("/dashboard").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_tables_hold_the_seeded_figures(staff_client, seeded):
    html = staff_client("secretary").get("/dashboard", query_string=PERIOD).get_data(as_text=True)
    referrals = _rows(html, "Referrals received per day")
    assert referrals["2030-03-04"] == ["2"] and referrals["2030-03-05"] == ["1"] and referrals["2030-03-06"] == ["0"]
    assert len(referrals) == 7
    states = _rows(html, "Consultations by state")
    assert states["Completed"] == ["2"] and states["In progress"] == ["2"] and states["Ready for pickup"] == ["1"]
    # Waits 10, 20, 30, 40: median 25, p90 37 (linear between ranks).
    assert _rows(html, "Waiting time per day") == {"2030-03-04": ["4", "25.0", "37.0"]}
    assert _rows(html, "Treatment duration per day") == {"2030-03-04": ["2", "20.0", "24.0"]}
    outcomes = _rows(html, "Consultation outcomes")
    assert outcomes["Helped"] == ["1"] and outcomes["Referred to GP"] == ["1"] and outcomes["Unable to help"] == ["0"]


def test_the_period_filter_leaves_out_other_days(staff_client, seeded):
    html = staff_client("admin").get("/dashboard", query_string={"since": "2030-03-05", "until": "2030-03-05"}) \
        .get_data(as_text=True)
    assert _rows(html, "Referrals received per day") == {"2030-03-05": ["1"]}
    assert _rows(html, "Consultations by state")["Ready for pickup"] == ["1"]
    assert _rows(html, "Consultations by state")["Completed"] == ["0"]
    assert "None in this period." in html
    assert _rows(html, "Consultation outcomes")["Helped"] == ["0"]


def test_counting_outcomes_is_one_audited_read_per_view(app, staff_client, seeded):
    staff_client("admin").get("/dashboard", query_string=PERIOD)
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "consultation_result.outcomes_counted")).all()
    assert len(events) == 1
    assert events[0].actor_type == "staff" and events[0].details["reports"] == 2
    # The period begins at the clinic's midnight (Europe/Oslo, CET in March), stored as UTC.
    assert events[0].details["since"].startswith("2030-03-03T23:00")


@pytest.mark.parametrize("query, message", [
    ({"since": "2030-03-10", "until": "2030-03-01"}, "Must not be before the start date."),
    ({"since": "2029-01-01", "until": "2030-12-31"}, "at most 366 days"),
    ({"since": "yesterday"}, "Not a valid date value."),
    ({"until": "2030-02-31"}, "Not a valid date value."),
    ({"since": "9" * 40}, "Not a valid date value."),
    ({"until": "0001-01-01"}, "Choose a date from 2000 to 2100."),
    ({"since": "9999-12-31"}, "Choose a date from 2000 to 2100."),
    ({"since": "2030-01-01", "until": "9999-12-31"}, "Choose a date from 2000 to 2100."),
])
def test_a_bad_period_is_a_400_page_with_the_error(staff_client, query, message):
    response = staff_client("secretary").get("/dashboard", query_string=query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    assert '<svg class="chart"' not in html


def test_one_end_of_the_period_is_enough(staff_client, seeded):
    html = staff_client("secretary").get("/dashboard", query_string={"until": "2030-03-05"}).get_data(as_text=True)
    referrals = _rows(html, "Referrals received per day")
    assert len(referrals) == 30 and referrals["2030-03-04"] == ["2"]


def test_travel_claim_outcomes_count_the_periods_claims_by_status(app, staff_client):
    from datetime import date

    from portal.travel_pay.models import TravelClaim
    from tests.checkin.conftest import book_appointment, set_up_clinic

    clinic = set_up_clinic(app)
    patients = [make_patient(app, fnr=fnr, email=None) for fnr in ("13116900216", "01018012371", "15076500565")]
    appointments = [book_appointment(app, clinic, pid, minutes_from_now=60 + 15 * n) for n, pid in enumerate(patients)]
    with app.app_context():
        for n, (pid, aid, status, made) in enumerate(zip(patients, appointments, ("filed", "filed", "failed"),
                                                         (DAY1, DAY2, DAY1 - timedelta(days=30)))):
            db.session.add(TravelClaim(patient_id=pid, appointment_id=aid, appointment_date=date(2030, 3, 4 + n),
                                       answers={}, status=status, attempts=1, max_attempts=5, next_attempt_at=made,
                                       idempotency_key=f"key-{n}", created_at=made))
        db.session.commit()
    html = staff_client("admin").get("/dashboard", query_string=PERIOD).get_data(as_text=True)
    rows = _rows(html, "Travel-claim outcomes")
    assert rows["Filed"] == ["2"]
    assert rows["Failed after retries"] == ["0"]  # made before the period
    assert rows["Queued"] == ["0"] and len(rows) == 8  # every status, zeros included


def _referrals_at(app, post_referral, seed_referral, moments):
    for n, _moment in enumerate(moments):
        body = dict(seed_referral, JournalGuid=f"5a0b54a7-8c2a-4c3c-80a4-0bc63e2c94{n:02d}")
        assert post_referral(body).status_code == 201
    with app.app_context():
        ids = db.session.scalars(select(Referral.id).order_by(Referral.id)).all()
        for rid, moment in zip(ids, moments):
            db.session.execute(update(Referral).where(Referral.id == rid).values(received_at=moment))
        db.session.commit()


def test_a_referral_at_23_30_utc_in_summer_counts_on_the_next_oslo_day(app, staff_client, post_referral,
                                                                         seed_referral, monkeypatch):
    monkeypatch.setitem(app.config, "CLINIC_TIME_ZONE", "Europe/Oslo")
    # 23:30 UTC on 4 June is 01:30 on 5 June in Oslo (CEST); 21:30 UTC is still 23:30 on 4 June.
    _referrals_at(app, post_referral, seed_referral, [datetime(2030, 6, 4, 23, 30), datetime(2030, 6, 4, 21, 30)])
    html = staff_client("secretary").get("/dashboard", query_string={"since": "2030-06-04", "until": "2030-06-05"}) \
        .get_data(as_text=True)
    assert _rows(html, "Referrals received per day") == {"2030-06-04": ["1"], "2030-06-05": ["1"]}
    # The period's last day ends at the clinic's midnight: 22:00 UTC on 5 June is already 6 June in Oslo.
    html = staff_client("secretary").get("/dashboard", query_string={"since": "2030-06-03", "until": "2030-06-04"}) \
        .get_data(as_text=True)
    assert _rows(html, "Referrals received per day") == {"2030-06-03": ["0"], "2030-06-04": ["1"]}


@pytest.mark.parametrize("moment, day", [
    (datetime(2030, 6, 4, 23, 30), "2030-06-05"),   # BST: 00:30 the next day in London
    (datetime(2030, 1, 15, 23, 30), "2030-01-15"),  # GMT: London's day is UTC's
])
def test_london_days_follow_british_summer_time(app, staff_client, post_referral, seed_referral, monkeypatch,
                                                moment, day):
    monkeypatch.setitem(app.config, "CLINIC_TIME_ZONE", "Europe/London")
    _referrals_at(app, post_referral, seed_referral, [moment])
    patient_id = make_patient(app)
    _consultation(app, patient_id, moment, waited_minutes=12)
    html = staff_client("admin").get("/dashboard", query_string={"since": day, "until": day}).get_data(as_text=True)
    assert _rows(html, "Referrals received per day") == {day: ["1"]}
    assert _rows(html, "Waiting time per day") == {day: ["1", "12.0", "12.0"]}
    assert _rows(html, "Consultations by state")["In progress"] == ["1"]
