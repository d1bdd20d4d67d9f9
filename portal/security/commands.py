"""Security commands: `flask --app wsgi audit-verify`, `flask --app wsgi rotate-keys`."""

import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.extensions import db, redis_client
from portal.security import audit, key_rotation
from portal.security.audit_chain import verify
from portal.security.crypto import SECRETS_CHECK_SECONDS, key_ring


@click.command("audit-verify")
@with_appcontext
def audit_verify_command():
    """Check the audit log's hash chain; exit status 1 if an event was edited or deleted."""
    result = verify(db.session)
    for problem in result.problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if result.before_chain:
        click.echo(f"note: {result.before_chain} event(s) predate the chain and cannot be verified")
    if result.ok:
        click.echo(f"audit chain intact: {result.checked} events checked")
    else:
        click.echo(f"audit chain BROKEN: {len(result.problems)} problem(s) in {result.checked} events", err=True)
        sys.exit(1)


@click.command("rotate-keys")
@with_appcontext
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--resume", is_flag=True, help="Re-seal under the current first key without adding a new one.")
def rotate_keys_command(batch, resume):
    """Add a new data key and re-seal every encrypted column under it, in batches, while the app serves."""
    current = key_ring().current_id
    if not resume and redis_client().exists(key_rotation.PROGRESS_KEY.format(kid=current)):
        click.echo(f"an unfinished rotation to key {current} was found: resuming it")
        resume = True
    if not resume:
        if key_rotation.keys_from_file():
            kid = key_rotation.add_key_to_secrets_file(current_app.config["INSTANCE_PATH"])
            click.echo(f"new data key {kid} added first in instance/secrets.json; running processes pick it up")
            # They look at the file at most once a second: wait that out, so none still seals under the
            # old key once the re-seal has passed (the report's "done" must hold when old keys are removed).
            time.sleep(SECRETS_CHECK_SECONDS + 0.2)
        else:
            spec, kid = key_rotation.new_spec(current_app.config["DATA_KEYS"])
            click.echo("DATA_KEYS comes from the environment. Set it in every process to:")
            click.echo(f"  DATA_KEYS={spec}")
            click.echo("restart them, then run `flask --app wsgi rotate-keys --resume`.")
            return
    audit.record("keys.rotation_started", target=key_ring().current_id)
    db.session.commit()
    report = key_rotation.reseal_all(
        batch=batch, on_batch=lambda table, last, n: click.echo(f"  {table}: up to id {last}, {n} re-sealed"))
    audit.record("keys.rotation_finished" if report.finished else "keys.rotation_incomplete",
                 target=report.target, resealed=report.resealed, left=report.left_under_old_keys)
    db.session.commit()
    if report.finished:
        click.echo(f"done: every encrypted value is sealed with {report.target} "
                   f"({sum(report.resealed.values())} values re-sealed). Old keys stay readable in DATA_KEYS "
                   "until you remove them.")
    else:
        click.echo(f"{report.left_under_old_keys} values still under old keys: run again", err=True)
        sys.exit(1)
