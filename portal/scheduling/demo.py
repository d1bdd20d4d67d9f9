"""Demo scheduling data: one service with a weekday diary and slots for the next two weeks. Idempotent."""

from datetime import date, time, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.scheduling import services
from portal.scheduling.models import Schedule

DEMO_SCHEDULE = "Minor injuries — Dr Patel"


def load_demo_schedule() -> list[str]:
    schedule = db.session.scalar(select(Schedule).where(Schedule.name == DEMO_SCHEDULE))
    if schedule is None:
        schedule = services.set_up_schedule(
            name=DEMO_SCHEDULE, service_name="Minor injuries unit", organisation_code="RXX01",
            location_name="Riverside Health Centre", practitioner_given="Asha", practitioner_family="Patel",
        )
        for weekday in range(5):
            services.add_weekly_template(schedule.id, weekday=weekday, start_time=time(9), end_time=time(12),
                                         slot_minutes=15)
    today = date.today()
    created = services.generate_slots(schedule.id, today, today + timedelta(days=13))
    return [f"Schedule: {schedule.name} (HealthcareService {schedule.healthcare_service_id}), {created} new slots"]
