from datetime import datetime, time
from uuid import UUID, uuid4

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

# FHIR STU3 slot statuses we use: `busy-unavailable` is a slot a secretary blocked.
FREE, BUSY, BLOCKED = "free", "busy", "busy-unavailable"
SLOT_STATUSES = (FREE, BUSY, BLOCKED)
BOOKED, CANCELLED = "booked", "cancelled"
DEFAULT_TIME_ZONE = "Europe/London"


class HealthcareService(db.Model):
    __tablename__ = "healthcare_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The ODS code of the organisation that provides the service.
    organisation_code: Mapped[str] = mapped_column(String(20), index=True)
    active: Mapped[bool] = mapped_column(default=True)


class Location(db.Model):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    organisation_code: Mapped[str | None] = mapped_column(String(20))
    # A location is the clinic for travel pay: claims are offered only where this is on
    # (and TRAVEL_PAY_ENABLED is on for the whole experience).
    travel_pay_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The clinic's IANA time zone: its "today" (check-in, links) is judged on this clock, not UTC's.
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE,
                                           server_default=DEFAULT_TIME_ZONE)


class Practitioner(db.Model):
    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str | None] = mapped_column(String(20))

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.prefix, self.given_name, self.family_name) if p)


class Schedule(db.Model):
    """A diary: its actors are one healthcare service and optionally a location and a practitioner."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    healthcare_service_id: Mapped[int] = mapped_column(ForeignKey("healthcare_services.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    # Weekly templates are wall-clock times in this zone; slots are stored in UTC.
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)
    active: Mapped[bool] = mapped_column(default=True)

    healthcare_service = relationship("HealthcareService")
    location = relationship("Location")
    practitioner = relationship("Practitioner")
    templates = relationship("WeeklyTemplate", order_by="(WeeklyTemplate.weekday, WeeklyTemplate.start_time)",
                             back_populates="schedule")


class WeeklyTemplate(db.Model):
    """Opening hours of a schedule on one weekday, cut into slots of `slot_minutes`."""

    __tablename__ = "weekly_templates"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint("slot_minutes > 0", name="slot_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"), index=True)
    weekday: Mapped[int]  # 0 = Monday
    start_time: Mapped[time]
    end_time: Mapped[time]
    slot_minutes: Mapped[int]

    schedule = relationship("Schedule", back_populates="templates")


class Slot(db.Model):
    __tablename__ = "slots"
    __table_args__ = (
        # Generation is idempotent: a schedule has at most one slot starting at a given instant.
        UniqueConstraint("schedule_id", "start", name="uq_slots_schedule_start"),
        # Slot search: one service, free, in a time window, in start order.
        Index("ix_slots_service_status_start", "healthcare_service_id", "status", "start"),
        # Slot search without a service (every parameter may be left out): a window of all services.
        Index("ix_slots_start", "start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The slot's identifier for other systems (FHIR Slot.identifier, system RFC 4122): a consumer
    # books the slot it found by sending it back in a contained Slot.
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"))
    # Copied from the schedule so that search needs no join.
    healthcare_service_id: Mapped[int] = mapped_column(ForeignKey("healthcare_services.id"))
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=FREE)
    version: Mapped[int] = mapped_column(default=1)

    schedule = relationship("Schedule")


class Appointment(db.Model):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    # Set while the appointment is booked, NULL once cancelled: the database refuses a second
    # active appointment on a slot even if the conditional update were ever bypassed.
    active_slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=BOOKED)
    start: Mapped[datetime]
    end: Mapped[datetime]
    description: Mapped[str | None] = mapped_column(String(500))
    comment: Mapped[str | None] = mapped_column(String(1000))
    # Who booked: "staff:<id>", "api:<client_id>", "partner:<id>".
    booked_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    # What a booking system sent about the booking that we keep as sent (FHIR: the contained Patient and
    # DocumentReference, as JSON); sealed, since a Patient carries address and phone.
    booked_details = mapped_column(EncryptedText("appointment.booked_details"), nullable=True)

    slot = relationship("Slot", foreign_keys=[slot_id])
    patient = relationship("Patient")


class AppointmentVersion(db.Model):
    """Every version an appointment has had (its status then and when it changed), so an earlier
    version can still be read after a cancellation."""

    __tablename__ = "appointment_versions"
    __table_args__ = (UniqueConstraint("appointment_id", "version", name="uq_appointment_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
