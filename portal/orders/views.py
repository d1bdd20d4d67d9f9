"""Admin pages for orders: the list per insurer and period, and an order with its lines."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from portal.orders import services
from portal.orders.forms import DiscountForm, OrderFilterForm
from portal.security.policy import authorize_found, requires

bp = Blueprint("orders", __name__)


@bp.get("/admin/orders")
@requires("order.view")
def order_list():
    form = OrderFilterForm(formdata=MultiDict(request.args) if request.args else None)
    form.insurer.choices = [("", _("All insurers"))] + [(str(i.id), i.name) for i in services.insurers()]
    if request.args and not form.validate():
        return render_template("orders/list.html", form=form, result=None), 400
    result = services.list_orders(insurer_id=int(form.insurer.data) if form.insurer.data else None,
                                  since=form.since.data, until=form.until.data, page=form.page.data or 1)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("orders/list.html", form=form, result=result, args=args)


def _order_or_404(order_id: int):
    return authorize_found("order.view", services.get_order(order_id))


@bp.get("/admin/orders/<int:order_id>")
@requires("order.view")
def order_detail(order_id: int):
    order = _order_or_404(order_id)
    return render_template("orders/detail.html", order=order, form=DiscountForm(), error_line=None)


@bp.post("/admin/orders/<int:order_id>/discount")
@requires("order.discount")
def change_discount(order_id: int):
    order = _order_or_404(order_id)
    form = DiscountForm()
    line_ids = {line.id for line in order.lines}
    if form.validate() and form.line_id.data in line_ids:
        try:
            discount = services.discount_from_percent(form.percent.data)
        except services.InvalidDiscount as exc:
            form.percent.errors = [str(exc)]
        else:
            services.change_line_discount(order, form.line_id.data, discount, by_id=current_user.id)
            flash(_("Discount changed; the order's totals are updated."))
            return redirect(url_for("orders.order_detail", order_id=order.id))
    elif form.line_id.data not in line_ids:
        form.percent.errors = list(form.percent.errors) + [_("Choose a line of this order.")]
    order = services.get_order(order_id)
    return render_template("orders/detail.html", order=order, form=form, error_line=form.line_id.data), 400
