"""`flask --app wsgi create-api-client`."""

import click
from flask.cli import with_appcontext

from portal.fhir import oauth


@click.command("create-api-client")
@with_appcontext
@click.option("--name", required=True, help="Who the client is, for people reading the audit log.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(oauth.SCOPES),
              help="Allowed scope (repeat); every scope if omitted.")
@click.option("--client-id", default=None, help="A chosen client id; random if omitted.")
def create_api_client_command(name, scopes, client_id):
    """Create an OAuth2 client-credentials client. The secret is printed once and stored only hashed."""
    try:
        client, secret = oauth.create_api_client(name=name, scopes=list(scopes or oauth.SCOPES), client_id=client_id)
    except oauth.InvalidClient as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"client_id: {client.client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo(f"scopes: {client.scopes}")
