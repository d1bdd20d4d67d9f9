"""The staff admins' partner settings screen: list, add and edit partner organisations.

Thin like the other views: the form checks shapes, `settings.save_partner` checks the rest
(tenant uniqueness, issuer URL, eligibility rules) and audits; its errors land on their fields.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.partners import settings
from portal.partners.forms import EmptyForm, PartnerSettingsForm
from portal.security.policy import requires

# Nested in the partners blueprint (endpoints partners.settings.*): the same package, another audience.
bp = Blueprint("settings", __name__, url_prefix="/admin/partners")


@bp.get("")
@requires("partner.manage")
def index():
    return render_template("partners/settings_list.html", partners=settings.list_partners())


def _save(partner_id: int | None, form: PartnerSettingsForm):
    """The saved partner, or None with the service's objection attached to its field."""
    try:
        return settings.save_partner(
            partner_id, name=form.name.data, tenant=form.tenant.data, idp_issuer=form.idp_issuer.data,
            idp_client_id=form.idp_client_id.data, idp_client_secret=form.idp_client_secret.data,
            self_scheduling=form.self_scheduling.data, eligibility_rules=form.rules())
    except settings.InvalidSetting as objection:
        field = getattr(form, objection.field, None) or form.triage_symptoms
        field.errors = [*field.errors, str(objection)]
        return None


def _form_page(form, partner=None):
    status = 422 if request.method == "POST" else 200
    return render_template("partners/settings_form.html", form=form, partner=partner, access_form=EmptyForm(),
                           users=settings.count_users(partner.id) if partner else 0), status


@bp.route("/new", methods=["GET", "POST"])
@requires("partner.manage")
def create():
    form = PartnerSettingsForm()
    if request.method == "GET":
        form.self_scheduling.data = True
    if form.validate_on_submit():
        partner = _save(None, form)
        if partner is not None:
            flash(_("Partner %(name)s added. Its users sign in at %(address)s.", name=partner.name,
                    address="/p/" + partner.tenant + "/login"))
            return redirect(url_for(".index"))
    return _form_page(form)


@bp.route("/<int:partner_id>", methods=["GET", "POST"])
@requires("partner.manage")
def edit(partner_id):
    partner = settings.get_partner(partner_id)
    if partner is None:
        abort(404)
    form = PartnerSettingsForm(obj=partner if request.method == "GET" else None)
    if request.method == "GET":
        form.idp_client_secret.data = None  # write-only: the stored secret is not even handed to the template
        form.show_rules(partner.eligibility_rules)
    if form.validate_on_submit():
        if _save(partner_id, form) is not None:
            flash(_("Settings of %(name)s saved.", name=form.name.data))
            return redirect(url_for(".index"))
    return _form_page(form, partner)


def _switched_partner(partner_id: int):
    partner = settings.get_partner(partner_id)
    if partner is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return partner


@bp.post("/<int:partner_id>/deactivate")
@requires("partner.manage")
def deactivate(partner_id):
    partner = _switched_partner(partner_id)
    signed_out = settings.deactivate_partner(partner.id)
    if signed_out is None:
        flash(_("%(name)s was already deactivated.", name=partner.name))
    else:
        flash(_("%(name)s is deactivated: its %(n)d users are signed out and cannot sign in, and its links no "
                "longer work.", name=partner.name, n=signed_out))
    return redirect(url_for(".edit", partner_id=partner.id))


@bp.post("/<int:partner_id>/reactivate")
@requires("partner.manage")
def reactivate(partner_id):
    partner = _switched_partner(partner_id)
    if settings.reactivate_partner(partner.id):
        flash(_("%(name)s is active again: its users can sign in.", name=partner.name))
    else:
        flash(_("%(name)s was already active.", name=partner.name))
    return redirect(url_for(".edit", partner_id=partner.id))
