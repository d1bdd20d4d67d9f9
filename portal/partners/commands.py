"""`flask --app wsgi create-partner` and `invite-partner-user`: how a real partner is set up."""

import json

import click
from flask.cli import with_appcontext

from portal.partners import services, settings
from portal.partners.models import PARTNER_ROLES


@click.command("create-partner")
@with_appcontext
@click.option("--name", required=True)
@click.option("--tenant", required=True, help="Path segment of /p/<tenant>/login.")
@click.option("--issuer", required=True, help="OIDC issuer; its /.well-known/openid-configuration is used.")
@click.option("--client-id", required=True)
@click.option("--client-secret", prompt=True, hide_input=True, help="Stored encrypted.")
@click.option("--self-scheduling/--no-self-scheduling", default=True, show_default=True)
@click.option("--rules", default="{}", help='Eligibility rules as JSON, e.g. {"triage_symptoms": ["chest pain"]}.')
def create_partner_command(name, tenant, issuer, client_id, client_secret, self_scheduling, rules):
    """Add a partner organisation with its identity provider."""
    try:
        parsed = json.loads(rules)
    except ValueError:
        raise click.BadParameter("not JSON", param_hint="--rules") from None
    try:
        # The same checks as the admin screen: tenant slug, issuer URL, eligibility rules.
        partner = settings.save_partner(None, name=name, tenant=tenant, idp_issuer=issuer, idp_client_id=client_id,
                                        idp_client_secret=client_secret, self_scheduling=self_scheduling,
                                        eligibility_rules=parsed)
    except settings.InvalidSetting as error:
        hint = {"idp_issuer": "--issuer", "idp_client_id": "--client-id", "idp_client_secret": "--client-secret",
                "tenant": "--tenant", "name": "--name"}.get(error.field, "--rules")
        raise click.BadParameter(str(error), param_hint=hint) from None
    click.echo(f"partner {partner.id} ({tenant}): sign-in at /p/{tenant}/login")


@click.command("invite-partner-user")
@with_appcontext
@click.option("--tenant", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(PARTNER_ROLES), default="partner_admin", show_default=True)
def invite_partner_user_command(tenant, email, role):
    """Invite a partner user (usually the first partner_admin); the first sign-in links the account."""
    partner = services.partner_by_tenant(tenant)
    if partner is None:
        raise click.BadParameter("no such tenant", param_hint="--tenant")
    try:
        user = services.invite_user(partner.id, email=email, role=role)
    except services.InvalidInput as error:
        raise click.BadParameter(str(error), param_hint="--email") from None
    click.echo(f"invited {user.email} as {role} of {tenant}")
