"""`flask --app wsgi generate-slots`."""

from datetime import date, timedelta

import click
from flask.cli import with_appcontext

from portal.scheduling import services


@click.command("generate-slots")
@with_appcontext
@click.option("--schedule", "schedule_ids", type=int, multiple=True, help="Schedule id; all schedules if omitted.")
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (today).")
@click.option("--days", type=click.IntRange(1, services.MAX_GENERATION_DAYS), default=28, show_default=True)
def generate_slots_command(schedule_ids, first_day, days):
    """Create the slots that the schedules' weekly hours give; existing slots are kept."""
    first = first_day.date() if first_day else date.today()
    last = first + timedelta(days=days - 1)
    schedules = [services.get_schedule(i) for i in schedule_ids] if schedule_ids else services.list_schedules()
    if any(s is None for s in schedules):
        raise click.BadParameter("no schedule with that id", param_hint="--schedule")
    for schedule in schedules:
        created = services.generate_slots(schedule.id, first, last)
        click.echo(f"schedule {schedule.id} ({schedule.name}): {created} new slots {first}..{last}")
