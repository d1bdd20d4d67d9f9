"""Insurers, deals and their price lists: the rules every edit goes through (admin pages, demo data).

Money is Decimal with two places, never negative; a deal runs from `valid_from` to `valid_until`
(inclusive, open-ended when empty) and overlapping deals are allowed (pricing takes the latest start,
see services.active_deal); a price list has at least one price, per channel or ANY, and may have
follow-up prices the same way (services.price_of falls back to the consultation prices). Exactly one
insurer at most is the default one. Every change is audited.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import select, update

from portal.consultations.models import CHANNELS
from portal.extensions import db
from portal.orders.models import ANY_CHANNEL, CONSULTATION_PRICE, FOLLOW_UP_PRICE, Deal, DealPrice, Insurer
from portal.orders.services import money
from portal.security import audit

PRICE_CHANNELS = (*CHANNELS, ANY_CHANNEL)
ORG_NUMBER = re.compile(r"[0-9]{6,20}")
MAX_PRICE = Decimal("9999999999.99")  # Numeric(12, 2)


class InvalidInput(ValueError):
    """`field` names the form field the message belongs next to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class InsurerInput:
    name: str
    org_number: str
    is_default: bool


@dataclass
class DealInput:
    name: str
    valid_from: date
    valid_until: date | None
    prices: dict[str, Decimal | None]  # channel -> price; None: no price for that channel
    # A follow-up's own price list, same rules; may be empty (a follow-up then costs what a consultation costs).
    follow_up_prices: dict[str, Decimal | None] = field(default_factory=dict)


def _check_insurer(data: InsurerInput, insurer_id: int | None) -> InsurerInput:
    name, org_number = (data.name or "").strip(), re.sub(r"\s", "", data.org_number or "")
    if not name or len(name) > 200:
        raise InvalidInput("name", _("Give the insurer's name (at most 200 characters)."))
    if not ORG_NUMBER.fullmatch(org_number):
        raise InvalidInput("org_number", _("An organisation number is 6 to 20 digits."))
    taken = db.session.scalar(select(Insurer.id).where(Insurer.org_number == org_number))
    if taken is not None and taken != insurer_id:
        raise InvalidInput("org_number", _("Another insurer has this organisation number."))
    return InsurerInput(name=name, org_number=org_number, is_default=bool(data.is_default))


def _make_default(insurer_id: int) -> None:
    db.session.execute(update(Insurer).where(Insurer.id != insurer_id, Insurer.is_default)
                       .values(is_default=False).execution_options(synchronize_session="fetch"))


def create_insurer(data: InsurerInput) -> Insurer:
    data = _check_insurer(data, None)
    insurer = Insurer(name=data.name, org_number=data.org_number, is_default=data.is_default)
    db.session.add(insurer)
    db.session.flush()
    if data.is_default:
        _make_default(insurer.id)
    audit.record("insurer.created", subject=insurer, name=insurer.name, is_default=insurer.is_default)
    db.session.commit()
    return insurer


def update_insurer(insurer: Insurer, data: InsurerInput) -> Insurer:
    data = _check_insurer(data, insurer.id)
    before = {"name": insurer.name, "org_number": insurer.org_number, "is_default": insurer.is_default}
    insurer.name, insurer.org_number, insurer.is_default = data.name, data.org_number, data.is_default
    if data.is_default:
        _make_default(insurer.id)
    audit.record("insurer.updated", subject=insurer, before=before,
                 after={"name": insurer.name, "org_number": insurer.org_number, "is_default": insurer.is_default})
    db.session.commit()
    return insurer


def _check_deal(data: DealInput) -> DealInput:
    name = (data.name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("name", _("Give the deal a name (at most 200 characters)."))
    if data.valid_from is None:
        raise InvalidInput("valid_from", _("Give the first day the deal is in force."))
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise InvalidInput("valid_until", _("The last day must not be before the first day."))
    prices = _check_prices(data.prices, "price")
    if not prices:
        raise InvalidInput("price_any", _("Give at least one price (or the price for any channel)."))
    return DealInput(name=name, valid_from=data.valid_from, valid_until=data.valid_until, prices=prices,
                     follow_up_prices=_check_prices(data.follow_up_prices, "follow_up_price"))


def _check_prices(given: dict, field_prefix: str) -> dict[str, Decimal]:
    prices = {}
    for channel in PRICE_CHANNELS:
        value = given.get(channel)
        if value is None:
            continue
        field_name = f"{field_prefix}_{channel.lower()}"
        try:
            price = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidInput(field_name, _("A price is a number.")) from None
        if not price.is_finite() or price < 0 or price > MAX_PRICE:
            raise InvalidInput(field_name, _("A price is 0 or more."))
        if price != money(price):
            raise InvalidInput(field_name, _("A price has at most two decimals."))
        prices[channel] = money(price)
    return prices


def _summary(deal: Deal, prices: dict, follow_up_prices: dict) -> dict:
    return {"name": deal.name, "valid_from": deal.valid_from.isoformat(),
            "valid_until": deal.valid_until.isoformat() if deal.valid_until else None,
            "prices": {channel: str(price) for channel, price in sorted(prices.items())},
            "follow_up_prices": {channel: str(price) for channel, price in sorted(follow_up_prices.items())}}


def _price_lists(deal: Deal) -> tuple[dict, dict]:
    return ({p.channel: p.price for p in deal.prices}, {p.channel: p.price for p in deal.follow_up_prices})


def _replace_prices(deal: Deal, kind: str, existing: list[DealPrice], prices: dict) -> None:
    rows = {p.channel: p for p in existing}
    for channel, row in rows.items():
        if channel not in prices:
            db.session.delete(row)
    for channel, price in prices.items():
        if channel in rows:
            rows[channel].price = price
        else:
            db.session.add(DealPrice(deal_id=deal.id, kind=kind, channel=channel, price=price))


def create_deal(insurer: Insurer, data: DealInput) -> Deal:
    data = _check_deal(data)
    deal = Deal(insurer_id=insurer.id, name=data.name, valid_from=data.valid_from, valid_until=data.valid_until)
    db.session.add(deal)
    db.session.flush()
    for kind, prices in ((CONSULTATION_PRICE, data.prices), (FOLLOW_UP_PRICE, data.follow_up_prices)):
        for channel, price in prices.items():
            db.session.add(DealPrice(deal_id=deal.id, kind=kind, channel=channel, price=price))
    audit.record("deal.created", subject=deal, insurer_id=insurer.id,
                 **_summary(deal, data.prices, data.follow_up_prices))
    db.session.commit()
    return deal


def update_deal(deal: Deal, data: DealInput) -> Deal:
    """New terms and price list. Orders already made keep their prices (they were priced when served)."""
    data = _check_deal(data)
    before = _summary(deal, *_price_lists(deal))
    deal.name, deal.valid_from, deal.valid_until = data.name, data.valid_from, data.valid_until
    _replace_prices(deal, CONSULTATION_PRICE, deal.prices, data.prices)
    _replace_prices(deal, FOLLOW_UP_PRICE, deal.follow_up_prices, data.follow_up_prices)
    audit.record("deal.updated", subject=deal, insurer_id=deal.insurer_id, before=before,
                 after=_summary(deal, data.prices, data.follow_up_prices))
    db.session.commit()
    db.session.refresh(deal)
    return deal


def deals_of(insurer_id: int) -> list[Deal]:
    return list(db.session.scalars(select(Deal).where(Deal.insurer_id == insurer_id)
                                   .order_by(Deal.valid_from.desc(), Deal.id.desc())))
