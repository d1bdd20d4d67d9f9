"""Demo insurer for `make run`: one default insurer with a deal, so a finished consultation creates an order."""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.orders.models import CONSULTATION_PRICE, FOLLOW_UP_PRICE, Deal, DealPrice, Insurer

DEMO_PRICES = {"VIDEO": "650.00", "PHONE": "450.00", "CHAT": "400.00", "ANY": "450.00"}
# A follow-up booked from a consultation costs less, whatever its channel.
DEMO_FOLLOW_UP_PRICE = "300.00"


def load_demo_insurer() -> list[str]:
    """Idempotent: the insurer is keyed by its organisation number, its deal by name."""
    insurer = db.session.scalar(select(Insurer).where(Insurer.org_number == "987654321"))
    if insurer is None:
        insurer = Insurer(name="Fjord Forsikring ASA", org_number="987654321", is_default=True)
        db.session.add(insurer)
        db.session.flush()
    deal = db.session.scalar(select(Deal).where(Deal.insurer_id == insurer.id, Deal.name == "Standard 2026"))
    if deal is None:
        deal = Deal(insurer_id=insurer.id, name="Standard 2026", valid_from=date(2026, 1, 1))
        db.session.add(deal)
        db.session.flush()
        for channel, price in DEMO_PRICES.items():
            db.session.add(DealPrice(deal_id=deal.id, kind=CONSULTATION_PRICE, channel=channel, price=Decimal(price)))
    # Also on a deal made before follow-ups had prices of their own.
    if db.session.scalar(select(DealPrice.id).where(DealPrice.deal_id == deal.id,
                                                    DealPrice.kind == FOLLOW_UP_PRICE)) is None:
        db.session.add(DealPrice(deal_id=deal.id, kind=FOLLOW_UP_PRICE, channel="ANY",
                                 price=Decimal(DEMO_FOLLOW_UP_PRICE)))
    db.session.commit()
    return [f"Insurer: {insurer.name} (default; deal {deal.name}: video {DEMO_PRICES['VIDEO']}, "
            f"phone {DEMO_PRICES['PHONE']}, chat {DEMO_PRICES['CHAT']}, follow-up {DEMO_FOLLOW_UP_PRICE})"]
