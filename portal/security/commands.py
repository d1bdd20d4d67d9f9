"""Security commands: `flask --app wsgi audit-verify`."""

import sys

import click
from flask.cli import with_appcontext

from portal.extensions import db


@click.command("audit-verify")
@with_appcontext
def audit_verify_command():
    """Check the audit log's hash chain; exit status 1 if an event was edited or deleted."""
    from portal.security.audit_chain import verify

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
