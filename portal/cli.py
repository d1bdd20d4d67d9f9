"""Flask commands: `flask --app wsgi <command>`."""

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue
from sqlalchemy import select

from portal.checkin.commands import send_checkin_links_command
from portal.checkin.jobs import schedule_link_sender
from portal.demo import DEMO_TOTP_SECRET, load_demo_data
from portal.extensions import db, worker_redis
from portal.fhir.commands import create_api_client_command
from portal.follow_ups.jobs import release_follow_ups
from portal.input_rules import TextRejected, clean_text
from portal.notifications.jobs import schedule_sweep as schedule_notification_sweep
from portal.notifications.services import sweep_pending
from portal.ops.metrics import record_job_failure
from portal.ops.readiness import JOB_MONITORING_SECONDS, WORKER_TTL_SECONDS
from portal.ops.workers import ForkingWorker, InProcessWorker
from portal.partners.commands import create_partner_command, invite_partner_user_command
from portal.reports.jobs import ensure_monthly_reports
from portal.scheduling.commands import generate_slots_command
from portal.security import two_factor
from portal.security.commands import audit_verify_command, rotate_keys_command
from portal.security.models import STAFF_ROLES, StaffUser
from portal.security.passwords import password_problem
from portal.security.staff_users import create_or_update_user
from portal.travel_pay.commands import follow_travel_claims_command, sweep_travel_claims_command
from portal.travel_pay.jobs import schedule_follower, schedule_sweep
from portal.travel_pay.services import sweep_travel_claims


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES))
@click.option("--name", required=True)
def create_user_command(email, password, role, name):
    """Create a staff account, or reset an existing one's role, name and password."""
    problem = password_problem(password, email)
    if problem:
        raise click.BadParameter(problem, param_hint="--password")
    try:
        name = clean_text(name, max_length=200)
    except TextRejected as exc:
        raise click.BadParameter(exc.message, param_hint="--name") from None
    user = create_or_update_user(email, password, role, name)
    click.echo(f"staff user {user.email} ({user.role}) ready")


@click.command("demo-codes")
@with_appcontext
def demo_codes_command():
    """Print the current two-factor code of each demo account that has the published demo secret."""
    users = db.session.scalars(select(StaffUser).where(StaffUser.totp_enabled_at.is_not(None)).order_by(StaffUser.id))
    demo = [user for user in users if user.totp_secret == DEMO_TOTP_SECRET]
    if not demo:
        click.echo("no demo account with the demo two-factor secret (run `flask demo-data`)")
        return
    code = two_factor.current_code(DEMO_TOTP_SECRET)
    for user in demo:
        click.echo(f"{user.email:<26} {code}")
    click.echo(f"(a code works once and changes every 30 s; or add the key {DEMO_TOTP_SECRET} to an authenticator app)")


@click.command("demo-data")
@with_appcontext
def demo_data_command():
    """Load demo staff, patients and referrals in every state. Safe to run again."""
    for line in load_demo_data():
        click.echo(line)


@click.command("worker")
@with_appcontext
@click.option("--queues", default="notifications,claims,reports,default")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process (no fork per job): faster, less isolated.")
def worker_command(queues, burst, simple):
    """Run an RQ worker with the scheduler, inside the app context."""
    connection = worker_redis()
    # Messages whose enqueue failed (Redis was down) are still pending in the outbox: pick them up. Not the
    # last seconds': a claim batch holds its committed texts up to a second before it dispatches them, and a
    # second job for a message could send it twice.
    click.echo(f"{sweep_pending(older_than_seconds=10)} pending notification(s) enqueued")
    swept = sweep_travel_claims()
    click.echo(f"travel claims: {swept['recovered']} recovered, {swept['queued']} queued")
    schedule_sweep()
    schedule_follower()
    schedule_link_sender()
    schedule_notification_sweep()
    # Follow-ups whose day came while no worker ran go into the queue now; the sweep keeps itself scheduled.
    click.echo(f"follow-ups: {release_follow_ups()} moved into the queue")
    if "reports" in queues.split(","):
        ensure_monthly_reports()  # the monthly insurer report schedules itself
    worker_class = InProcessWorker if simple else ForkingWorker
    # A short TTL makes an idle worker beat every ~20 s, so /readyz can tell a dead one within a minute.
    worker = worker_class([Queue(name, connection=connection) for name in queues.split(",")], connection=connection,
                          exception_handlers=[record_job_failure], worker_ttl=WORKER_TTL_SECONDS,
                          job_monitoring_interval=JOB_MONITORING_SECONDS)
    worker.work(with_scheduler=True, burst=burst, logging_level=current_app.config["LOG_LEVEL"])


@click.command("sweep-notifications")
@with_appcontext
@click.option("--older-than", default=30, show_default=True, help="Seconds a message must have waited.")
def sweep_notifications_command(older_than):
    """Enqueue pending notifications no job holds (e.g. after a Redis outage)."""
    click.echo(f"{sweep_pending(older_than_seconds=older_than)} pending notification(s) enqueued")


@click.command("redis-url")
@with_appcontext
def redis_url_command():
    """Print the Redis URL in use (starting the embedded server if needed)."""
    click.echo(current_app.config["REDIS_URL"])


def init_app(app):
    for command in (create_user_command, demo_codes_command, demo_data_command, worker_command,
                    sweep_notifications_command,
                    redis_url_command, generate_slots_command, create_api_client_command, create_partner_command,
                    invite_partner_user_command, send_checkin_links_command, sweep_travel_claims_command,
                    follow_travel_claims_command, audit_verify_command, rotate_keys_command):
        app.cli.add_command(command)
