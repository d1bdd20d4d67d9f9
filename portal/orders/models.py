from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.security.models import utcnow

# Money is Numeric(12, 2) everywhere, never float; a discount is a fraction of the line (0.1 = 10 %).
MONEY = Numeric(12, 2)
FRACTION = Numeric(5, 4)
ANY_CHANNEL = "ANY"
# What a price is for: a consultation, or a follow-up booked from one (a price list may set it apart).
CONSULTATION_PRICE, FOLLOW_UP_PRICE = "consultation", "follow_up"


class Insurer(db.Model):
    """A customer organisation the clinic serves consultations for and sends orders to."""

    __tablename__ = "insurers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(20), unique=True)
    # The insurer behind the coverage service and the insurance referrals: new insurance
    # consultations are served for it (see docs/architecture.md, "a consultation's insurer").
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deal(db.Model):
    """An agreement with an insurer for a period; its price list says what a consultation costs."""

    __tablename__ = "deals"
    __table_args__ = (Index("ix_deals_insurer_valid_from", "insurer_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # inclusive; open-ended when empty

    insurer = relationship("Insurer")
    # The price list the admin pages edit (per channel or ANY); a follow-up's own prices are apart, so
    # an edit keyed by channel never touches them.
    prices = relationship("DealPrice", back_populates="deal", order_by="DealPrice.channel",
                          primaryjoin=f"and_(Deal.id == DealPrice.deal_id, DealPrice.kind == '{CONSULTATION_PRICE}')")
    follow_up_prices = relationship(
        "DealPrice", order_by="DealPrice.channel", viewonly=True,
        primaryjoin=f"and_(Deal.id == DealPrice.deal_id, DealPrice.kind == '{FOLLOW_UP_PRICE}')")


class DealPrice(db.Model):
    """The price of one consultation (or follow-up) on a channel (its primary channel, or ANY) under a deal."""

    __tablename__ = "deal_prices"
    __table_args__ = (UniqueConstraint("deal_id", "kind", "channel", name="uq_deal_prices_deal_kind_channel"),
                      CheckConstraint("price >= 0", name="price_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"))
    kind: Mapped[str] = mapped_column(String(20), default=CONSULTATION_PRICE, server_default=CONSULTATION_PRICE)
    channel: Mapped[str] = mapped_column(String(10))
    price: Mapped[Decimal] = mapped_column(MONEY)

    deal = relationship("Deal", back_populates="prices")


class Order(db.Model):
    """What the insurer is billed for one served consultation. Totals are kept by services.recalculate."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_insurer_served_on", "insurer_id", "served_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    # A consultation never gets two orders, whoever finishes it and however often.
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    served_on: Mapped[date] = mapped_column(Date)
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    discount_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    insurer = relationship("Insurer")
    deal = relationship("Deal")
    consultation = relationship("Consultation")
    lines = relationship("OrderLine", back_populates="order", order_by="OrderLine.id")


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("discount >= 0 AND discount <= 1", name="discount_is_a_fraction"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    quantity: Mapped[int] = mapped_column(default=1)
    discount: Mapped[Decimal] = mapped_column(FRACTION, default=Decimal("0"))
    line_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))

    order = relationship("Order", back_populates="lines")
