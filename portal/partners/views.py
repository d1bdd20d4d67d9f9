"""Partner users' own pages: sign-in at their organisation's provider, sign-out, the partner admin's
users page and everyone's profile. Thin: parse input, ask policy (which also gives the partner
every query is filtered by), call a service, render."""

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db, limiter
from portal.partners import services
from portal.partners.forms import EmptyForm, InviteForm, ProfileForm, RoleForm
from portal.partners.settings_views import bp as settings_bp
from portal.partners.sign_in import (
    SignInFailed,
    client_for,
    identity_claims,
    partner_home_url,
    refresh_provider,
    remember_tenant,
)
from portal.security import auth
from portal.security.policy import authorize, can, partner_scope, requires

bp = Blueprint("partners", __name__)
bp.register_blueprint(settings_bp)


def _sign_in_failed(message: str, status: int = 400):
    return render_template("partners/message.html", title=_("Sign-in did not complete"), message=message), status


def _provider_down(tenant: str, step: str):
    current_app.logger.warning("partner sign-in: provider of tenant %s did not answer (%s)", tenant, step)
    return _sign_in_failed(_("Your organisation's sign-in service did not answer. Try again in a minute."), 502)


# --- sign-in ---------------------------------------------------------------------------------------

def _partner_for_sign_in(tenant: str):
    """The tenant's partner; 404 for an unknown tenant, a page saying so for one an admin switched off."""
    partner = services.partner_by_tenant(tenant, include_deactivated=True)
    if partner is None:
        abort(404)
    if not partner.active:
        current_app.logger.warning("partner sign-in refused: tenant=%s reason=partner_deactivated", tenant)
        abort(make_response(render_template(
            "partners/message.html", title=_("Access is switched off"),
            message=_("%(name)s's access to the portal is switched off. Contact the clinic if you need it back.",
                      name=partner.name)), 403))
    return partner


@bp.get("/p/<tenant>/login")
@limiter.limit("30 per minute")
def login(tenant):
    partner = _partner_for_sign_in(tenant)
    if request.args.get("signed_out"):
        # A page, not a redirect to the provider: its own session may still be alive and would sign
        # the person straight back in, undoing a sign-out or an idle timeout.
        return render_template("partners/sign_in.html", partner=partner)
    try:
        client = client_for(partner)
        refresh_provider(client)
        return client.authorize_redirect(url_for("partners.callback", tenant=tenant, _external=True))
    except SignInFailed:
        return _provider_down(tenant, "discovery")


@bp.get("/p/<tenant>/callback")
@limiter.limit("30 per minute")
def callback(tenant):
    partner = _partner_for_sign_in(tenant)
    client = client_for(partner)
    try:
        token = client.authorize_access_token()
        claims = identity_claims(client, token)
    except OSError:
        return _provider_down(tenant, "token or userinfo")
    except SignInFailed as error:
        # The kind of error and the OAuth error code only: descriptions may quote the request.
        current_app.logger.warning("partner sign-in refused: tenant=%s reason=%s %s", tenant, type(error).__name__,
                                   getattr(error, "error", ""))
        return _sign_in_failed(_("The sign-in could not be checked. Please start again."))
    user = services.user_for_sign_in(partner, issuer=claims.get("iss", ""), subject=claims.get("sub", ""),
                                     email=claims.get("email") if claims.get("email_verified", True) else None)
    if user is None:
        return _sign_in_failed(_("This account has no access to the portal for this organisation."), 403)
    auth.begin_session(user)  # a fresh cookie and its server-side record, as for staff
    return remember_tenant(redirect(partner_home_url()), tenant)


@bp.get("/partner/sign-in")
def where_to_sign_in():
    """For a signed-out partner page whose organisation this browser does not know."""
    return render_template("partners/where_to_sign_in.html")


@bp.post("/partner/logout")
def logout():
    tenant = getattr(getattr(current_user, "partner", None), "tenant", None)
    auth.end_session("partner.logout")
    flash(_("You are signed out."))
    return redirect(url_for("partners.login", tenant=tenant, signed_out=1) if tenant
                    else url_for("partners.where_to_sign_in"))


# --- users and profile -----------------------------------------------------------------------------

@bp.route("/partner/users", methods=["GET", "POST"])
@requires("partner_user.manage")
def users():
    partner_id = partner_scope(current_user)
    form = InviteForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.invite_user(partner_id, email=form.email.data, role=form.role.data)
            flash(_("Invitation saved: they can sign in with their organisation account."))
            return redirect(url_for("partners.users"))
        except services.InvalidInput as error:
            form.email.errors.append(str(error))
    if request.method == "POST":
        status = 422
    return render_template("partners/users.html", form=form, users=services.list_users(partner_id),
                           role_form=RoleForm(formdata=None), empty=EmptyForm()), status


def _managed_user(user_id: int):
    user = services.get_user(partner_scope(current_user), user_id)
    if user is None:
        abort(404)
    authorize("partner_user.manage", user)
    return user


@bp.post("/partner/users/<int:user_id>/role")
@requires("partner_user.manage")
def change_role(user_id):
    user = _managed_user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.change_role(user.partner_id, user.id, form.role.data)
    except services.LastAdmin as refusal:
        flash(str(refusal))
        return redirect(url_for("partners.users"))
    if user.id == current_user.id:
        # Stepping down: their other browsers are signed out; this one goes on, with the new role.
        db.session.refresh(user)
        auth.begin_session(user)
    flash(_("Role changed."))
    return redirect(url_for("partners.users"))


@bp.post("/partner/users/<int:user_id>/deactivate")
@requires("partner_user.manage")
def deactivate(user_id):
    user = _managed_user(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."))
        return redirect(url_for("partners.users"))
    try:
        services.deactivate_user(user.partner_id, user.id)
    except services.LastAdmin as refusal:
        flash(str(refusal))
        return redirect(url_for("partners.users"))
    flash(_("User deactivated."))
    return redirect(url_for("partners.users"))


@bp.route("/partner/profile", methods=["GET", "POST"])
@requires("partner.profile")
def profile():
    partner_scope(current_user)
    form = ProfileForm(obj=current_user if request.method == "GET" else None)
    form.default_service_id.choices = [(0, _("None"))] + services.service_choices()
    if form.validate_on_submit():
        services.update_profile(current_user, name=form.name.data, notification_email=form.notification_email.data,
                                default_service_id=form.default_service_id.data or None)
        flash(_("Profile saved."))
        return redirect(url_for("partners.profile"))
    # A partner admin sees (not edits) the settings that shape their users' work; staff admins edit them.
    partner = current_user.partner if can(current_user, "partner.settings.view") else None
    return render_template("partners/profile.html", form=form, partner=partner), (
        422 if request.method == "POST" else 200)


