"""The main menu in the header of every signed-in page: which pages each role has, in order, and which one
is open. A table rather than twenty `{% if current_user.role in ... %}` in base.html: the page reads the
user's role and its endpoint once, and each address is built by url_for once per process (and script root),
not on every page. The chain of ifs with a url_for and a translation per link was a third of base.html's
render, which every page pays."""

from flask import current_app, request, url_for
from flask_babel import get_translations
from flask_login import current_user


def N_(message: str) -> str:
    """Marks a label for the catalogs (`make translations`); it is translated when the menu is built."""
    return message


SCREENING = ("secretary", "admin")
PARTNER_STAFF = ("partner_admin", "scheduler", "viewer")

# (roles, endpoint, label, the endpoints it is open on: exact names, or prefixes ending in ".")
ITEMS = (
    (SCREENING, "referrals.queue", N_("Referral queue"), ("referrals.queue",)),
    (SCREENING, "scheduling.schedules", N_("Schedules"), ("scheduling.schedules", "scheduling.diary")),
    (SCREENING, "book_elsewhere.start", N_("Book elsewhere"), ("book_elsewhere.",)),
    (SCREENING, "triage.queue", N_("Triage"), ("triage.",)),
    (PARTNER_STAFF, "care_requests.index", N_("Care requests"), ("care_requests.index",)),
    (("partner_admin", "scheduler"), "care_requests.new", N_("New care request"), ("care_requests.new",)),
    (("partner_admin",), "partners.users", N_("Users"), ("partners.users",)),
    (PARTNER_STAFF, "partners.profile", N_("Profile"), ("partners.profile",)),
    (("admin",), "staff_admin.staff_list", N_("Staff"), ("staff_admin.",)),
    (("admin",), "partners.settings.index", N_("Partners"), ("partners.settings.",)),
    (("admin",), "scheduling.admin", N_("Scheduling set-up"), ("scheduling.admin",)),
    (("doctor", "secretary", "admin"), "consultations.queue", N_("Consultations"), ("consultations.queue",)),
    (SCREENING, "notifications.outbox", N_("Messages"), ("notifications.outbox",)),
    (SCREENING, "travel_pay.claims", N_("Travel claims"), ("travel_pay.claims",)),
    (SCREENING, "reports.dashboard", N_("Dashboards"), ("reports.dashboard",)),
    (("admin",), "ops.queues", N_("Job queues"), ("ops.queues", "ops.failed", "ops.job")),
    (("admin",), "reports.audit_browser", N_("Audit log"), ("reports.audit_browser",)),
    (("admin",), "orders.order_list", N_("Orders"), ("orders.",)),
    (("admin",), "insurers.insurer_list", N_("Insurers"), ("insurers.",)),
    (("reporting", "admin"), "reports.insurer_reports", N_("Insurer reports"),
     ("reports.insurer_reports", "reports.request_insurer_report", "reports.insurer_run")),
    (("secretary", "doctor", "admin", "reporting"), "account.active_sessions", N_("Your account"), ("account.",)),
)


def _links(role: str) -> tuple:
    """The role's links: (address, label, exact endpoints, endpoint prefixes), built once per script root and
    language (the catalog's translations object, which lives as long as the app)."""
    built = current_app.extensions.setdefault("main_menu", {})
    translations = get_translations()
    key = (role, request.script_root, translations)
    if key not in built:
        built[key] = tuple(
            (url_for(endpoint), translations.ugettext(label), frozenset(m for m in open_on if not m.endswith(".")),
             tuple(m for m in open_on if m.endswith(".")))
            for roles, endpoint, label, open_on in ITEMS if role in roles)
    return built[key]


def main_menu() -> list[tuple[str, str, bool]]:
    """(address, label in this page's language, whether it is this page) for each page of the user's role."""
    role = getattr(current_user, "role", None)
    if role is None:
        return []
    here = request.endpoint or ""
    return [(url, label, here in exact or here.startswith(prefixes)) for url, label, exact, prefixes in _links(role)]


# base.html's other fixed addresses: name -> (endpoint, values).
HEADER_ADDRESSES = {
    "home": ("main.home", {}),
    "staff_sign_out": ("security.logout", {}),
    "partner_sign_out": ("partners.logout", {}),
    "language": ("languages.choose", {}),
    "favicon": ("static", {"filename": "img/favicon.svg"}),
    "stylesheet": ("static", {"filename": "css/portal.css"}),
    "htmx": ("static", {"filename": "vendor/htmx-2.0.11/htmx.min.js"}),
    "script": ("static", {"filename": "js/portal.js"}),
}


def header_address(name: str) -> str:
    """One of base.html's fixed addresses, built by url_for once per process and script root: every page
    needs the same seven (~250 Python calls of url_for a page), and static files' names are fixed for the
    life of the process (their content hashes)."""
    built = current_app.extensions.setdefault("header_addresses", {})
    key = (name, request.script_root)
    address = built.get(key)
    if address is None:
        endpoint, values = HEADER_ADDRESSES[name]
        address = built[key] = url_for(endpoint, **values)
    return address


def init_app(app) -> None:
    app.jinja_env.globals.update(main_menu=main_menu, header_address=header_address)
