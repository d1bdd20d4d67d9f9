"""Orders: one per consultation served for an insurer, priced from the insurer's deal.

Totals are only ever set by `recalculate`, which every change (a new line, a changed discount)
ends with, so an order's figures always agree with its lines.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.consultations.events import consultation_creating, consultation_finished
from portal.consultations.models import Consultation
from portal.extensions import db
from portal.orders.models import (
    ANY_CHANNEL,
    CONSULTATION_PRICE,
    FOLLOW_UP_PRICE,
    Deal,
    DealPrice,
    Insurer,
    Order,
    OrderLine,
)
from portal.security import audit
from portal.security.models import utcnow

CENT = Decimal("0.01")
MAX_DISCOUNT_PLACES = 4  # a fraction with four places: 12.5 % is 0.1250


class InvalidDiscount(ValueError):
    pass


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# -- insurers and deals --------------------------------------------------------------------------

def default_insurer_id() -> int | None:
    return db.session.scalar(select(Insurer.id).where(Insurer.is_default).order_by(Insurer.id).limit(1))


@consultation_creating.connect
def _insurance_goes_to_the_default_insurer(consultation: Consultation, **_) -> None:
    """An insurance consultation created without an insurer is billed to the default one."""
    if consultation.category == "insurance" and consultation.insurer_id is None:
        consultation.insurer_id = default_insurer_id()


@consultation_creating.connect
def _a_follow_up_keeps_its_first_consultations_deal(consultation: Consultation, **_) -> None:
    """A follow-up is billed under the deal of the consultation it follows up: the deal that consultation's
    order names, or, while it is not billed yet (booked before it finished), the deal in force today."""
    if consultation.follow_up_of_id is None or consultation.insurer_id is None or consultation.deal_id is not None:
        return
    deal_id = db.session.scalar(select(Order.deal_id).where(Order.consultation_id == consultation.follow_up_of_id))
    if deal_id is None:
        deal = active_deal(consultation.insurer_id, utcnow().date())
        deal_id = deal.id if deal else None
    consultation.deal_id = deal_id


def insurers() -> list[Insurer]:
    return list(db.session.scalars(select(Insurer).order_by(Insurer.name)))


def active_deal(insurer_id: int, on: date) -> Deal | None:
    """The deal in force on `on`; when deals overlap, the one that started last."""
    return db.session.scalar(
        select(Deal).where(Deal.insurer_id == insurer_id, Deal.valid_from <= on,
                           or_(Deal.valid_until.is_(None), Deal.valid_until >= on))
        .order_by(Deal.valid_from.desc(), Deal.id.desc()).limit(1))


def price_of(deal: Deal | None, channel: str, kind: str = CONSULTATION_PRICE) -> Decimal | None:
    """The deal's price for a consultation of `kind` on `channel`, else its ANY price of that kind; a
    follow-up the price list has no follow-up price for costs what a consultation costs. Else None."""
    if deal is None:
        return None
    prices = {(k, c): price for k, c, price in db.session.execute(
        select(DealPrice.kind, DealPrice.channel, DealPrice.price).where(
            DealPrice.deal_id == deal.id, DealPrice.kind.in_({kind, CONSULTATION_PRICE}),
            DealPrice.channel.in_((channel, ANY_CHANNEL))))}
    for wanted in dict.fromkeys((kind, CONSULTATION_PRICE)):
        for on in (channel, ANY_CHANNEL):
            if (wanted, on) in prices:
                return prices[(wanted, on)]
    return None


# -- orders --------------------------------------------------------------------------------------

def order_served_consultation(consultation_id: int) -> Order | None:
    """Create the order for a consultation just finished, in the caller's transaction.

    Nothing for a consultation without an insurer. Exactly once: finishing is a conditional
    UPDATE only one caller passes, and `orders.consultation_id` is unique behind it.
    """
    row = db.session.execute(select(Consultation.insurer_id, Consultation.primary_channel, Consultation.ends_at,
                                    Consultation.category, Consultation.deal_id, Consultation.follow_up_of_id)
                             .where(Consultation.id == consultation_id)).one()
    if row.insurer_id is None:
        return None
    served_on = (row.ends_at or utcnow()).date()
    # A follow-up keeps the deal agreed when it was booked; any other is billed under the day's deal.
    deal = db.session.get(Deal, row.deal_id) if row.deal_id else active_deal(row.insurer_id, served_on)
    follow_up = row.follow_up_of_id is not None
    price = price_of(deal, row.primary_channel, FOLLOW_UP_PRICE if follow_up else CONSULTATION_PRICE)
    description = f"{row.primary_channel.title()} consultation ({row.category})"
    if follow_up:
        description = f"Follow-up: {description}"
    if price is None:
        # Billed at 0 and said so, rather than not billed: an admin sees it and sets it right.
        description += " — no price in the insurer's deal"
    order = Order(insurer_id=row.insurer_id, consultation_id=consultation_id, deal_id=deal.id if deal else None,
                  served_on=served_on)
    try:
        with db.session.begin_nested():
            db.session.add(order)
            db.session.flush()
    except IntegrityError:
        return db.session.scalar(select(Order).where(Order.consultation_id == consultation_id))
    add_line(order, description=description, unit_price=price or Decimal("0"))
    audit.record("order.created", subject=order, consultation_id=consultation_id, total=str(order.total))
    return order


@consultation_finished.connect
def _order_the_finished_consultation(consultation_id: int, **_) -> None:
    order_served_consultation(consultation_id)


def add_line(order: Order, *, description: str, unit_price: Decimal, quantity: int = 1,
             discount: Decimal = Decimal("0")) -> OrderLine:
    """A new line on the order; totals follow. In the caller's transaction."""
    check_discount(discount)
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    line = OrderLine(order=order, description=description[:200], unit_price=money(unit_price), quantity=quantity,
                     discount=discount)
    db.session.add(line)
    db.session.flush()
    recalculate(order)
    return line


def check_discount(discount: Decimal) -> None:
    """A discount is a fraction of the line's price: 0 (none) to 1 (free), at most four places."""
    if not isinstance(discount, Decimal) or not discount.is_finite():
        raise InvalidDiscount(_l("The discount must be a number."))
    if discount < 0 or discount > 1:
        raise InvalidDiscount(_l("The discount must be between 0 % and 100 %."))
    if discount != discount.quantize(Decimal(1).scaleb(-MAX_DISCOUNT_PLACES)):
        raise InvalidDiscount(_l("The discount may have at most two decimals in per cent."))


def discount_from_percent(percent) -> Decimal:
    """What an admin types (12.5 = 12.5 %) as the fraction we store (0.125)."""
    try:
        fraction = Decimal(str(percent).strip()) / 100
    except (InvalidOperation, ValueError):
        raise InvalidDiscount(_l("The discount must be a number.")) from None
    check_discount(fraction)
    return fraction


def line_total(line: OrderLine) -> Decimal:
    return money(line.unit_price * line.quantity * (1 - Decimal(line.discount)))


def recalculate(order: Order) -> None:
    """Set the lines' totals and the order's from its lines: the one place totals are computed."""
    lines = db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    subtotal = total = Decimal("0.00")
    for line in lines:
        line.line_total = line_total(line)
        subtotal += money(line.unit_price * line.quantity)
        total += line.line_total
    order.subtotal, order.total, order.discount_total = subtotal, total, subtotal - total
    order.updated_at = utcnow()
    db.session.flush()


def change_line_discount(order: Order, line_id: int, discount: Decimal, *, by_id: int) -> OrderLine:
    """An admin changes one line's discount; totals follow; audited; committed."""
    check_discount(discount)
    line = db.session.scalar(select(OrderLine).where(OrderLine.id == line_id, OrderLine.order_id == order.id)
                             .with_for_update())
    if line is None:
        raise LookupError("no such line on this order")
    before = line.discount
    line.discount = discount
    recalculate(order)
    audit.record("order.discount_changed", subject=order, line_id=line.id, discount_before=str(before),
                 discount_after=str(discount), total=str(order.total), actor=("staff", str(by_id)))
    db.session.commit()
    return line


def get_order(order_id: int) -> Order | None:
    return db.session.get(Order, order_id, options=[selectinload(Order.lines)], populate_existing=True)


# -- the admin list ------------------------------------------------------------------------------

@dataclass
class OrderList:
    rows: list  # (Order, consultation code, insurer name)
    count: int
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    page: int
    pages: int


def _filtered(query, insurer_id: int | None, since: date | None, until: date | None):
    if insurer_id:
        query = query.where(Order.insurer_id == insurer_id)
    if since:
        query = query.where(Order.served_on >= since)
    if until:
        query = query.where(Order.served_on <= until)
    return query


def list_orders(*, insurer_id: int | None = None, since: date | None = None, until: date | None = None,
                page: int = 1, per_page: int = 50) -> OrderList:
    """Orders per insurer and period (served dates, inclusive), newest first, with the period's totals."""
    sums = db.session.execute(_filtered(
        select(func.count(Order.id), func.coalesce(func.sum(Order.subtotal), 0),
               func.coalesce(func.sum(Order.discount_total), 0), func.coalesce(func.sum(Order.total), 0)),
        insurer_id, since, until)).one()
    count = sums[0]
    pages = max(1, -(-count // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(_filtered(
        select(Order, Consultation.code, Insurer.name).join(Consultation, Consultation.id == Order.consultation_id)
        .join(Insurer, Insurer.id == Order.insurer_id), insurer_id, since, until)
        .order_by(Order.served_on.desc(), Order.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return OrderList([tuple(r) for r in rows], count, money(sums[1]), money(sums[2]), money(sums[3]), page, pages)
