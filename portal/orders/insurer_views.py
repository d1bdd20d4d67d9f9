"""Admin pages for insurers, their deals and price lists: /admin/insurers, /admin/deals/<id>."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.extensions import db
from portal.orders import deals
from portal.orders.forms import DealForm, InsurerForm
from portal.orders.models import Deal, Insurer
from portal.orders.services import insurers
from portal.security.policy import authorize, requires

bp = Blueprint("insurers", __name__, url_prefix="/admin")


def _insurer_input(form: InsurerForm) -> deals.InsurerInput:
    return deals.InsurerInput(name=form.name.data, org_number=form.org_number.data, is_default=form.is_default.data)


def _deal_input(form: DealForm) -> deals.DealInput:
    return deals.DealInput(name=form.name.data, valid_from=form.valid_from.data, valid_until=form.valid_until.data,
                           prices={channel: getattr(form, f"price_{channel.lower()}").data
                                   for channel in deals.PRICE_CHANNELS},
                           follow_up_prices={channel: getattr(form, f"follow_up_price_{channel.lower()}").data
                                             for channel in deals.PRICE_CHANNELS})


def _show_error(form, error: deals.InvalidInput) -> None:
    getattr(form, error.field).errors = list(getattr(form, error.field).errors) + [str(error)]


@bp.route("/insurers", methods=["GET", "POST"])
@requires("insurer.manage")
def insurer_list():
    form = InsurerForm()
    if form.validate_on_submit():
        try:
            insurer = deals.create_insurer(_insurer_input(form))
            flash(_("Insurer %(name)s added. Now give it a deal.", name=insurer.name))
            return redirect(url_for("insurers.insurer_detail", insurer_id=insurer.id))
        except deals.InvalidInput as error:
            _show_error(form, error)
    status = 422 if request.method == "POST" else 200
    return render_template("orders/insurers.html", insurers=insurers(), form=form), status


def _insurer_or_404(insurer_id: int) -> Insurer:
    insurer = db.session.get(Insurer, insurer_id)
    if insurer is None:
        abort(404)
    authorize("insurer.manage", insurer)
    return insurer


def _detail(insurer, form, deal_form, status=200):
    return render_template("orders/insurer.html", insurer=insurer, form=form, deal_form=deal_form,
                           deals=deals.deals_of(insurer.id)), status


@bp.route("/insurers/<int:insurer_id>", methods=["GET", "POST"])
@requires("insurer.manage")
def insurer_detail(insurer_id):
    insurer = _insurer_or_404(insurer_id)
    form = InsurerForm(obj=insurer if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            deals.update_insurer(insurer, _insurer_input(form))
            flash(_("Insurer saved."))
            return redirect(url_for("insurers.insurer_detail", insurer_id=insurer.id))
        except deals.InvalidInput as error:
            db.session.rollback()
            _show_error(form, error)
    return _detail(insurer, form, DealForm(formdata=None), 422 if request.method == "POST" else 200)


@bp.post("/insurers/<int:insurer_id>/deals")
@requires("insurer.manage")
def new_deal(insurer_id):
    insurer = _insurer_or_404(insurer_id)
    form = DealForm()
    if form.validate_on_submit():
        try:
            deal = deals.create_deal(insurer, _deal_input(form))
            flash(_("Deal %(name)s added.", name=deal.name))
            return redirect(url_for("insurers.insurer_detail", insurer_id=insurer.id))
        except deals.InvalidInput as error:
            _show_error(form, error)
    return _detail(insurer, InsurerForm(obj=insurer, formdata=None), form, 422)


@bp.route("/deals/<int:deal_id>", methods=["GET", "POST"])
@requires("insurer.manage")
def deal_detail(deal_id):
    deal = db.session.get(Deal, deal_id)
    if deal is None:
        abort(404)
    authorize("insurer.manage", deal)
    if request.method == "GET":
        prices = {p.channel: p.price for p in deal.prices}
        follow_up_prices = {p.channel: p.price for p in deal.follow_up_prices}
        form = DealForm(obj=deal, **{f"price_{c.lower()}": prices.get(c) for c in deals.PRICE_CHANNELS},
                        **{f"follow_up_price_{c.lower()}": follow_up_prices.get(c) for c in deals.PRICE_CHANNELS})
    else:
        form = DealForm()
    if form.validate_on_submit():
        try:
            deals.update_deal(deal, _deal_input(form))
            flash(_("Deal saved. Orders already made keep the prices they were made with."))
            return redirect(url_for("insurers.insurer_detail", insurer_id=deal.insurer_id))
        except deals.InvalidInput as error:
            db.session.rollback()
            _show_error(form, error)
    return render_template("orders/deal.html", deal=deal, form=form), 422 if request.method == "POST" else 200
