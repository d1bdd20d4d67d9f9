import click
from flask.cli import with_appcontext

from portal.travel_pay.following import follow_claims
from portal.travel_pay.services import sweep_travel_claims


@click.command("sweep-travel-claims")
@with_appcontext
@click.option("--stuck-after", type=int, default=None,
              help="Seconds a claim may be `submitting` before it counts as cut off "
                   "(default TRAVEL_CLAIM_STUCK_SECONDS).")
def sweep_travel_claims_command(stuck_after):
    """Queue travel claims no job holds (Redis was down) and recover those whose worker died."""
    swept = sweep_travel_claims(stuck_after)
    click.echo(f"travel claims: {swept['recovered']} recovered, {swept['queued']} queued")


@click.command("follow-travel-claims")
@with_appcontext
def follow_travel_claims_command():
    """Ask the claims system the status of filed claims that are due (the follower job does it on its own)."""
    counts = follow_claims()
    click.echo(f"travel claims: {counts['checked']} checked, {counts['decided']} decided, "
               f"{counts['stopped']} no longer followed, {counts['failed']} failed"
               + (" (paused: the claims API breaker is open)" if counts["paused"] else ""))
