import click
from flask.cli import with_appcontext

from portal.checkin.services import send_checkin_links


@click.command("send-checkin-links")
@with_appcontext
def send_checkin_links_command():
    """Text and e-mail check-in links for today's and tomorrow's appointments (once each)."""
    click.echo(f"{send_checkin_links()} check-in message(s) queued")
