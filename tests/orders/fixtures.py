"""Insurers with deals, and consultations already served for them (for order and report tests)."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from portal.consultations.models import COMPLETED, ConsultationResult
from portal.consultations.services import create_consultation
from portal.extensions import db
from portal.orders import services as orders
from portal.orders.models import Deal, DealPrice, Insurer


def make_insurer(app, *, name="Fjord Forsikring", org_number="987654321", is_default=True,
                 prices=None, valid_from=date(2026, 1, 1), valid_until=None) -> int:
    prices = prices if prices is not None else {"VIDEO": "650.00", "ANY": "450.00"}
    with app.app_context():
        insurer = Insurer(name=name, org_number=org_number, is_default=is_default)
        db.session.add(insurer)
        db.session.flush()
        add_deal(insurer.id, "Standard 2026", valid_from, valid_until, prices)
        db.session.commit()
        return insurer.id


def add_deal(insurer_id, name, valid_from, valid_until, prices) -> Deal:
    deal = Deal(insurer_id=insurer_id, name=name, valid_from=valid_from, valid_until=valid_until)
    db.session.add(deal)
    db.session.flush()
    for channel, price in prices.items():
        db.session.add(DealPrice(deal_id=deal.id, channel=channel, price=Decimal(price)))
    return deal


def serve_consultation(app, patient_id: int, *, ended: datetime, channel="VIDEO", author_id: int | None = None,
                       outcome="helped", icpc2="R74", policy_number="POL-1234", category="insurance") -> int:
    """A consultation that was served and billed (state set directly; the life cycle has its own tests)."""
    with app.app_context():
        consultation = create_consultation(patient_id=patient_id, source="referral",
                                           enabled_channels=["CHAT", channel], primary_channel=channel,
                                           category=category)
        consultation.state = COMPLETED
        consultation.created_at = ended - timedelta(minutes=40)
        consultation.starts_at = ended - timedelta(minutes=25)
        consultation.ends_at = ended
        db.session.flush()
        orders.order_served_consultation(consultation.id)
        if author_id is not None:
            db.session.add(ConsultationResult(consultation_id=consultation.id, author_id=author_id, icpc2_code=icpc2,
                                              outcome=outcome, policy_number=policy_number))
        db.session.commit()
        return consultation.id
