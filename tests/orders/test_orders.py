"""Orders: one per consultation served for an insurer, priced from its deal, discounts and totals."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.consultations.models import Consultation
from portal.extensions import db
from portal.orders import services
from portal.orders.models import Order, OrderLine
from portal.security.models import AuditEvent
from tests.conftest import make_consultation, make_patient, make_staff
from tests.orders.fixtures import add_deal, make_insurer, serve_consultation

PANEL = {"HX-Request": "true", "HX-Target": "consultation-panel"}


def orders_of(cid):
    return db.session.scalars(select(Order).where(Order.consultation_id == cid)).all()


def test_finishing_an_insurance_consultation_bills_its_insurer_once(app, sandbox, staff_client):
    insurer_id = make_insurer(app)
    doctor = staff_client("doctor")
    cid = make_consultation(app, channels=("CHAT", "VIDEO"), primary="VIDEO")
    for step in ("pick", "start", "finish"):
        assert doctor.post(f"/consultations/{cid}/{step}", data={"csrf_token": doctor.csrf},
                           headers=PANEL).status_code == 200
    # A second finish is refused by the life cycle and bills nothing.
    assert doctor.post(f"/consultations/{cid}/finish", data={"csrf_token": doctor.csrf},
                       headers=PANEL).status_code == 409
    with app.app_context():
        [order] = orders_of(cid)
        assert order.insurer_id == insurer_id and order.served_on == db.session.get(Consultation, cid).ends_at.date()
        [line] = order.lines
        assert line.unit_price == Decimal("650.00") and line.discount == 0
        assert order.total == order.subtotal == Decimal("650.00")
        # Asking again (a retried job, a race the finish UPDATE already decided) finds the same order.
        assert services.order_served_consultation(cid).id == order.id
        db.session.commit()
        assert len(orders_of(cid)) == 1
        assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 1


def test_the_price_comes_from_the_deal_in_force_on_the_day_served(app):
    insurer_id = make_insurer(app, valid_from=date(2026, 1, 1), valid_until=date(2026, 5, 31),
                              prices={"VIDEO": "600.00", "ANY": "400.00"})
    with app.app_context():
        add_deal(insurer_id, "Summer 2026", date(2026, 6, 1), None, {"PHONE": "300.00", "ANY": "500.00"})
        db.session.commit()
    patient = make_patient(app)
    cases = [(datetime(2026, 3, 2, 10), "VIDEO", "600.00"), (datetime(2026, 3, 2, 11), "PHONE", "400.00"),
             (datetime(2026, 7, 1, 10), "PHONE", "300.00"), (datetime(2026, 7, 1, 11), "VIDEO", "500.00")]
    for ended, channel, price in cases:
        cid = serve_consultation(app, patient, ended=ended, channel=channel)
        with app.app_context():
            assert orders_of(cid)[0].total == Decimal(price), (ended, channel)


def test_a_consultation_without_a_price_is_billed_at_zero_and_says_so(app):
    make_insurer(app, prices={"VIDEO": "650.00"})
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10), channel="PHONE")
    with app.app_context():
        [order] = orders_of(cid)
        assert order.total == 0 and "no price" in order.lines[0].description


def test_a_private_consultation_bills_no_insurer(app):
    make_insurer(app)
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10), category="private")
    with app.app_context():
        assert db.session.get(Consultation, cid).insurer_id is None and orders_of(cid) == []


def test_without_a_default_insurer_a_consultation_has_none(app):
    make_insurer(app, is_default=False)
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10))
    with app.app_context():
        assert orders_of(cid) == []


@pytest.mark.parametrize("bad", [Decimal("-0.01"), Decimal("1.0001"), Decimal("NaN"), Decimal("Infinity"),
                                 Decimal("0.12345"), 0.1])
def test_a_discount_outside_zero_to_one_or_too_precise_is_refused(bad):
    with pytest.raises(services.InvalidDiscount):
        services.check_discount(bad)


@pytest.mark.parametrize("typed, fraction", [("0", "0"), ("12.5", "0.125"), ("100", "1"), (" 7.25 ", "0.0725")])
def test_a_discount_typed_in_per_cent_is_stored_as_a_fraction(typed, fraction):
    assert services.discount_from_percent(typed) == Decimal(fraction)


@pytest.mark.parametrize("typed", ["abc", "", "-5", "101", "12.345", "1e400"])
def test_a_bad_discount_in_per_cent_is_refused(typed):
    with pytest.raises(services.InvalidDiscount):
        services.discount_from_percent(typed)


def test_totals_follow_every_added_line_and_changed_discount(app):
    make_insurer(app)
    admin_id = make_staff(app, "admin")
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10))
    with app.app_context():
        order = orders_of(cid)[0]
        extra = services.add_line(order, description="Follow-up message", unit_price=Decimal("99.99"), quantity=3,
                                  discount=Decimal("0.1"))
        db.session.commit()
        # 650.00 + 3 × 99.99 = 949.97; 10 % off 299.97 = 30.00 (rounded half up) → 919.97
        assert (order.subtotal, order.discount_total, order.total) == (
            Decimal("949.97"), Decimal("30.00"), Decimal("919.97"))
        first = order.lines[0]
        services.change_line_discount(order, first.id, Decimal("0.25"), by_id=admin_id)
        order = services.get_order(order.id)
        assert order.lines[0].line_total == Decimal("487.50") and order.lines[1].line_total == extra.line_total
        assert order.total == Decimal("487.50") + Decimal("269.97")
        assert order.discount_total == order.subtotal - order.total
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order.discount_changed"))
        assert event.actor_id == str(admin_id) and event.details["discount_after"] == "0.25"
        with pytest.raises(services.InvalidDiscount):
            services.change_line_discount(order, first.id, Decimal("2"), by_id=admin_id)
        db.session.rollback()
        assert services.get_order(order.id).total == Decimal("757.47")


# -- admin pages --------------------------------------------------------------------------------

def two_insurers_with_orders(app):
    first = make_insurer(app)
    second = make_insurer(app, name="Nordlys Helse", org_number="912345678", is_default=False)
    patient = make_patient(app)
    march = [serve_consultation(app, patient, ended=datetime(2026, 3, d, 10)) for d in (2, 3)]
    april = serve_consultation(app, patient, ended=datetime(2026, 4, 2, 10))
    with app.app_context():
        other = Consultation(code="OTHER001", patient_id=patient, source="referral", state="completed",
                             enabled_channels=["PHONE"], primary_channel="PHONE", insurer_id=second,
                             created_at=datetime(2026, 3, 5, 9), starts_at=datetime(2026, 3, 5, 9, 10),
                             ends_at=datetime(2026, 3, 5, 9, 30))
        db.session.add(other)
        db.session.flush()
        services.order_served_consultation(other.id)
        db.session.commit()
    return first, second, march, april


def test_admin_lists_orders_per_insurer_and_period_with_totals(app, staff_client):
    first, second, march, april = two_insurers_with_orders(app)
    admin = staff_client("admin")
    html = admin.get(f"/admin/orders?insurer={first}&since=2026-03-01&until=2026-03-31").get_data(as_text=True)
    # Babel's money for the language and the install's currency (GBP in a GB install): never a bare '1300.00'.
    assert html.count("/admin/orders/") == 2 and "£1,300.00" in html and "OTHER001" not in html
    html = admin.get("/admin/orders?since=2026-03-01&until=2026-03-31").get_data(as_text=True)
    assert html.count("/admin/orders/") == 3 and "OTHER001" in html
    html = admin.get(f"/admin/orders?insurer={second}").get_data(as_text=True)
    assert html.count("/admin/orders/") == 1
    assert admin.get("/admin/orders").status_code == 200


@pytest.mark.parametrize("query, message", [
    ("since=2026-04-01&until=2026-03-01", "Must not be before the start date."),
    ("since=yesterday", "Not a valid date value."),
    ("insurer=999999", "Not a valid choice."),
    ("page=0", "Number must be"),
])
def test_bad_order_filters_answer_with_form_errors(app, staff_client, query, message):
    make_insurer(app)
    response = staff_client("admin").get(f"/admin/orders?{query}")
    assert response.status_code == 400 and message in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["secretary", "doctor", "reporting"])
def test_only_admins_see_orders(app, staff_client, role):
    make_insurer(app)
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10))
    with app.app_context():
        order_id = orders_of(cid)[0].id
    c = staff_client(role)
    assert c.get("/admin/orders").status_code == 403
    assert c.get(f"/admin/orders/{order_id}").status_code == 403
    assert c.post(f"/admin/orders/{order_id}/discount", data={"csrf_token": c.csrf, "line_id": 1,
                                                              "percent": "50"}).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    assert client.get("/admin/orders").status_code == 302


def test_admin_changes_a_discount_and_the_totals_follow(app, staff_client):
    make_insurer(app)
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10))
    admin = staff_client("admin")
    with app.app_context():
        order = orders_of(cid)[0]
        order_id, line_id = order.id, order.lines[0].id
    response = admin.post(f"/admin/orders/{order_id}/discount",
                          data={"csrf_token": admin.csrf, "line_id": line_id, "percent": "12.5"})
    assert response.status_code == 302
    page = admin.get(f"/admin/orders/{order_id}").get_data(as_text=True)
    assert "568.75" in page and "81.25" in page and 'value="12.5"' in page
    with app.app_context():
        assert services.get_order(order_id).total == Decimal("568.75")


@pytest.mark.parametrize("percent, message", [
    ("150", "between 0 % and 100 %"), ("-1", "between 0 % and 100 %"), ("abc", "Not a valid decimal"),
    ("", "Enter a discount"), ("12.345", "at most two decimals"),
])
def test_a_bad_discount_is_a_form_error_and_changes_nothing(app, staff_client, percent, message):
    make_insurer(app)
    cid = serve_consultation(app, make_patient(app), ended=datetime(2026, 3, 2, 10))
    admin = staff_client("admin")
    with app.app_context():
        order = orders_of(cid)[0]
        order_id, line_id = order.id, order.lines[0].id
    response = admin.post(f"/admin/orders/{order_id}/discount",
                          data={"csrf_token": admin.csrf, "line_id": line_id, "percent": percent})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context():
        assert services.get_order(order_id).total == Decimal("650.00")
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "order.discount_changed")) == 0


def test_a_line_of_another_order_cannot_be_changed(app, staff_client):
    make_insurer(app)
    patient = make_patient(app)
    first = serve_consultation(app, patient, ended=datetime(2026, 3, 2, 10))
    second = serve_consultation(app, patient, ended=datetime(2026, 3, 3, 10))
    admin = staff_client("admin")
    with app.app_context():
        first_order, other_line = orders_of(first)[0].id, orders_of(second)[0].lines[0].id
    response = admin.post(f"/admin/orders/{first_order}/discount",
                          data={"csrf_token": admin.csrf, "line_id": other_line, "percent": "50"})
    assert response.status_code == 400 and "Choose a line of this order" in response.get_data(as_text=True)
    with app.app_context():
        assert services.get_order(orders_of(second)[0].id).total == Decimal("650.00")


def test_an_unknown_order_is_404(app, staff_client):
    admin = staff_client("admin")
    assert admin.get("/admin/orders/424242").status_code == 404
    assert admin.get("/admin/orders/99999999999").status_code == 404
    assert admin.post("/admin/orders/424242/discount",
                      data={"csrf_token": admin.csrf, "line_id": 1, "percent": "5"}).status_code == 404


def test_two_finishes_at_once_make_one_order(app):
    """Two requests finishing the same consultation at the same moment: one wins, one order."""
    import threading

    from portal.consultations import services as life_cycle

    make_insurer(app)
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    with app.app_context():
        db.session.execute(Consultation.__table__.update().where(Consultation.id == cid).values(
            state="in_progress", service_provider_id=doctor, starts_at=datetime(2026, 3, 2, 9)))
        db.session.commit()
    barrier, outcomes = threading.Barrier(2), []

    def finish():
        with app.app_context():
            consultation = db.session.get(Consultation, cid)
            db.session.commit()  # end the read (on SQLite it holds the write lock) before racing
            barrier.wait()
            try:
                life_cycle.finish_consultation(consultation, doctor_id=doctor)
                outcomes.append("finished")
            except life_cycle.NotAllowedNow:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["finished", "refused"]
    with app.app_context():
        assert len(orders_of(cid)) == 1


def test_a_direct_consultation_is_served_for_the_insurer_behind_the_coverage_check(app):
    from portal.consultations import direct

    insurer_id = make_insurer(app)
    identity = {"first_name": "Ola", "last_name": "Nordmann", "birth_date": "1980-01-01", "email": "ola@example.com",
                "phone": None}
    with app.app_context():
        consultation = direct.open_direct_consultation(identity, policy_number="POL-42", need="Sore throat",
                                                       channel="CHAT")
        assert consultation.insurer_id == insurer_id


@pytest.mark.parametrize("language, region, currency, total", [
    ("nb", "NO", "NOK", "1\xa0300,00\xa0kr"), ("en", "NO", "NOK", "1\xa0300,00\xa0kr"),
    ("en", "GB", "NOK", "NOK1,300.00"), ("en", "GB", "GBP", "£1,300.00")])
def test_prices_are_money_in_the_readers_language_and_the_installs_currency(
        app, staff_client, monkeypatch, language, region, currency, total):
    first, _second, march, _april = two_insurers_with_orders(app)
    monkeypatch.setitem(app.config, "PORTAL_REGION", region)
    monkeypatch.setitem(app.config, "PORTAL_CURRENCY", currency)
    admin = staff_client("admin")
    headers = {"Accept-Language": language}
    listing = admin.get(f"/admin/orders?insurer={first}&since=2026-03-01&until=2026-03-31", headers=headers)
    html = listing.get_data(as_text=True)
    assert total in html and "1300.00" not in html
    order_id = re.search(r'href="/admin/orders/(\d+)"', html).group(1)
    detail = admin.get(f"/admin/orders/{order_id}", headers=headers).get_data(as_text=True)
    assert not re.search(r">\s*\d+\.\d\d\s*<", detail), "a price written as a bare '%.2f'"
