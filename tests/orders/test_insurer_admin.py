"""Admins keep insurers, deals and price lists at /admin/insurers, with the rules of portal/orders/deals.py."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.orders import services
from portal.orders.models import FOLLOW_UP_PRICE, Deal, Insurer
from portal.security.models import AuditEvent

DEAL = {"name": "Standard 2031", "valid_from": "2031-01-01", "valid_until": "", "price_video": "650.00",
        "price_phone": "", "price_chat": "400", "price_any": "450.50"}


def _insurer(admin, **values):
    data = {"csrf_token": admin.csrf, "name": "Fjord Forsikring ASA", "org_number": "987 654 321", **values}
    return admin.post("/admin/insurers", data=data)


def test_an_admin_adds_an_insurer_and_a_deal_that_prices_orders(app, staff_client):
    admin = staff_client("admin")
    response = _insurer(admin, is_default="y")
    assert response.status_code == 302
    insurer_url = response.headers["Location"]
    added = admin.post(insurer_url + "/deals", data={"csrf_token": admin.csrf, **DEAL})
    assert added.status_code == 302
    page = admin.get(insurer_url).get_data(as_text=True)
    assert "Standard 2031" in page and "video 650.00" in page and "2031-01-01" in page
    with app.app_context():
        insurer = db.session.scalar(select(Insurer))
        assert insurer.org_number == "987654321" and insurer.is_default
        deal = services.active_deal(insurer.id, date(2031, 6, 1))
        assert services.price_of(deal, "VIDEO") == Decimal("650.00")
        assert services.price_of(deal, "PHONE") == Decimal("450.50")  # ANY
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"insurer.created", "deal.created"} <= actions
    assert admin.get("/admin/insurers").status_code == 200


@pytest.mark.parametrize("changes, field, message", [
    ({"valid_until": "2030-12-31"}, "valid_until", "must not be before"),
    ({"price_video": "-1"}, "price_video", "0 or more"),
    ({"price_video": "10.005"}, "price_video", "two decimals"),
    ({"price_video": "", "price_chat": "", "price_any": ""}, "price_any", "at least one price"),
    ({"name": ""}, "deal_name", "This field is required"),
    ({"follow_up_price_any": "-5"}, "follow_up_price_any", "0 or more"),
])
def test_a_deal_that_breaks_a_rule_is_refused_next_to_its_field(app, staff_client, changes, field, message):
    admin = staff_client("admin")
    insurer_url = _insurer(admin).headers["Location"]
    response = admin.post(insurer_url + "/deals", data={"csrf_token": admin.csrf, **DEAL, **changes})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body and message in body
    with app.app_context():
        assert db.session.scalar(select(Deal)) is None


def test_editing_a_deal_replaces_its_price_list_and_is_audited(app, staff_client):
    admin = staff_client("admin")
    insurer_url = _insurer(admin).headers["Location"]
    admin.post(insurer_url + "/deals", data={"csrf_token": admin.csrf, **DEAL})
    with app.app_context():
        deal_id = db.session.scalar(select(Deal.id))
    form = admin.get(f"/admin/deals/{deal_id}").get_data(as_text=True)
    assert 'value="650.00"' in form
    saved = admin.post(f"/admin/deals/{deal_id}", data={"csrf_token": admin.csrf, **DEAL, "price_video": "700",
                                                         "price_chat": ""})
    assert saved.status_code == 302
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        assert {p.channel: p.price for p in deal.prices} == {"VIDEO": Decimal("700.00"), "ANY": Decimal("450.50")}
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "deal.updated"))
    assert event.details["before"]["prices"]["CHAT"] == "400.00" and "CHAT" not in event.details["after"]["prices"]


def test_a_deals_follow_up_prices_are_their_own_list_and_a_follow_up_without_one_costs_a_consultation(
        app, staff_client):
    admin = staff_client("admin")
    insurer_url = _insurer(admin).headers["Location"]
    admin.post(insurer_url + "/deals", data={"csrf_token": admin.csrf, **DEAL, "follow_up_price_any": "300"})
    assert "follow-up: any 300.00" in admin.get(insurer_url).get_data(as_text=True)
    with app.app_context():
        deal_id = db.session.scalar(select(Deal.id))
        deal = db.session.get(Deal, deal_id)
        assert services.price_of(deal, "VIDEO", FOLLOW_UP_PRICE) == Decimal("300.00")
        assert services.price_of(deal, "VIDEO") == Decimal("650.00")
    assert 'value="300.00"' in admin.get(f"/admin/deals/{deal_id}").get_data(as_text=True)
    # The consultation prices change; the follow-up's ANY price is a different row and stays.
    admin.post(f"/admin/deals/{deal_id}", data={"csrf_token": admin.csrf, **DEAL, "price_any": "500",
                                                "follow_up_price_any": "300", "follow_up_price_chat": "250"})
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        assert {p.channel: p.price for p in deal.prices} == {
            "VIDEO": Decimal("650.00"), "CHAT": Decimal("400.00"), "ANY": Decimal("500.00")}
        assert {p.channel: p.price for p in deal.follow_up_prices} == {
            "CHAT": Decimal("250.00"), "ANY": Decimal("300.00")}
        assert services.price_of(deal, "CHAT", FOLLOW_UP_PRICE) == Decimal("250.00")
    # Without follow-up prices a follow-up is billed at the consultation's price on its channel.
    admin.post(f"/admin/deals/{deal_id}", data={"csrf_token": admin.csrf, **DEAL})
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        assert deal.follow_up_prices == []
        assert services.price_of(deal, "VIDEO", FOLLOW_UP_PRICE) == Decimal("650.00")
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "deal.updated")
                                   .order_by(AuditEvent.id.desc())).first()
    assert event.details["before"]["follow_up_prices"] == {"ANY": "300.00", "CHAT": "250.00"}
    assert event.details["after"]["follow_up_prices"] == {}


def test_organisation_numbers_are_digits_and_unique_and_one_insurer_is_default(app, staff_client):
    admin = staff_client("admin")
    assert _insurer(admin, is_default="y").status_code == 302
    again = _insurer(admin, name="Copy")
    assert again.status_code == 422 and "Another insurer has this organisation number" in again.get_data(as_text=True)
    bad = _insurer(admin, name="Letters", org_number="ABC")
    assert bad.status_code == 422 and "6 to 20 digits" in bad.get_data(as_text=True)
    assert _insurer(admin, name="Second", org_number="123456789", is_default="y").status_code == 302
    with app.app_context():
        assert [i.name for i in db.session.scalars(select(Insurer).where(Insurer.is_default))] == ["Second"]


@pytest.mark.parametrize("role", ["secretary", "doctor", "reporting"])
def test_only_admins_keep_insurers(staff_client, role):
    client = staff_client(role)
    assert client.get("/admin/insurers").status_code == 403
    assert client.post("/admin/insurers", data={"csrf_token": client.csrf, "name": "x",
                                                "org_number": "123456"}).status_code == 403


def test_forms_need_the_csrf_token(staff_client):
    admin = staff_client("admin")
    assert admin.post("/admin/insurers", data={"name": "x", "org_number": "123456"}).status_code == 400
