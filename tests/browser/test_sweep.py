"""The sweep: every page a person can open, as every role that may open it, on a 375 x 740 phone and a
1280 x 800 desktop, in Debian's Chromium with the CSP on. It fails on any axe-core violation (every
rule, every impact), any console error, and any sideways scrolling on the phone, and prints how many
routes, roles, viewports and page views it covered.

Which pages and roles: tests/browser/sweep_pages.py (one line per page). `test_every_get_route_is_swept_or_excused`
fails when a GET route of the URL map is in neither PAGES nor NOT_PAGES, so a new page cannot be forgotten.

It runs once per CI run: on the SQLite pass. On the PostgreSQL pass (DATABASE_URL=postgresql…) it is
skipped: the pages render the same HTML from either database, and the pass saves ~5 minutes of CI.
One Chromium for the whole sweep, one signed-in context per role, reused for both viewports.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.sweep_pages import ERROR_PAGES, NOT_PAGES, PAGES
from tests.conftest import run_notification_jobs

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = {"375x740": PHONE, "1280x800": DESKTOP}
DEMO_PASSWORD = "demo-password-1"
STAFF_EMAIL = {"secretary": "secretary@example.org", "doctor": "doctor@example.org",
               "admin": "admin@example.org", "reporting": "reporting@example.org"}
PARTNER_USER = {"partner_admin": "Alice Admin", "scheduler": "Sam Scheduler", "viewer": "Vic Viewer"}
PATIENT_LINE = ("Danser", "1969-11-13")   # demo patient with the in-progress consultation and check-in
PATIENT_OLA = ("Nordmann", "1980-01-01")  # demo patient whose consultation is completed


def html_get_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}


def test_every_get_route_is_swept_or_excused(app):
    endpoints = html_get_endpoints(app)
    forgotten = sorted(endpoints - set(PAGES) - set(NOT_PAGES))
    assert not forgotten, ("GET routes neither swept nor excused; add each to tests/browser/sweep_pages.py "
                           f"(PAGES with its roles, or NOT_PAGES with the reason): {forgotten}")
    stale = sorted((set(PAGES) | set(NOT_PAGES)) - endpoints)
    assert not stale, f"sweep_pages.py names routes that no longer exist: {stale}"
    assert not set(PAGES) & set(NOT_PAGES)


# --- seed data, made through the services -------------------------------------------------------------

class Seed(dict):
    """Ids for page paths. A value that works once (a handoff token) is made fresh at each use."""

    def __init__(self, *args, fresh=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fresh = fresh or {}

    def __missing__(self, key):
        if key in self.fresh:
            return self.fresh[key]()
        raise KeyError(key)


def _staff_id(email):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.security.models import StaffUser

    return db.session.scalar(select(StaffUser.id).where(StaffUser.email == email))


def _patient(fnr):
    from portal.patients.services import find_patient_by_fodselsnummer

    return find_patient_by_fodselsnummer(fnr)


def seed_everything(app) -> Seed:
    """The demo data of `make run`, plus one of everything a page needs an id for."""
    from datetime import timedelta

    from rq import Queue, SimpleWorker
    from sqlalchemy import select

    from portal.care_requests import services as care_requests
    from portal.checkin import services as checkin
    from portal.consultations import results, services as consultations
    from portal.demo import load_demo_data
    from portal.extensions import db, redis_client, worker_redis
    from portal.orders.models import Order
    from portal.partners import services as partners
    from portal.partners.models import PartnerUser
    from portal.referrals.models import Referral
    from portal.reports import insurer_report
    from portal.scheduling.models import Schedule, Slot
    from portal.scheduling.services import book_slot
    from portal.security.models import utcnow

    with app.app_context():
        load_demo_data()
        doctor = _staff_id(STAFF_EMAIL["doctor"])
        line, ola = _patient("13116900216"), _patient("01018012371")

        in_progress = consultations.create_consultation(patient_id=line.id, source="referral",
                                                        enabled_channels=["CHAT", "VIDEO"], primary_channel="VIDEO")
        db.session.commit()
        consultations.pick_consultation(in_progress, doctor_id=doctor)
        consultations.start_consultation(in_progress, doctor_id=doctor)
        patient_link = consultations.create_patient_link(in_progress)
        db.session.commit()

        done = consultations.create_consultation(patient_id=ola.id, source="referral", enabled_channels=["CHAT"],
                                                 primary_channel="CHAT")
        db.session.commit()
        consultations.pick_consultation(done, doctor_id=doctor)
        consultations.start_consultation(done, doctor_id=doctor)
        consultations.finish_consultation(done, doctor_id=doctor)
        results.file_report(done, results.ReportIn(icpc2_code="R72", outcome="helped"), author_id=doctor)
        done_link = consultations.create_patient_link(done)
        db.session.commit()
        order = db.session.scalar(select(Order).where(Order.consultation_id == done.id))

        run = insurer_report.request_report(insurer_id=order.insurer_id, start=date(2026, 1, 1),
                                            end=date(2026, 1, 31), by_id=_staff_id(STAFF_EMAIL["reporting"]))
        queue = Queue("default", connection=redis_client())
        failed_job = queue.enqueue("operator.truediv", 1, 0)
        SimpleWorker([queue], connection=worker_redis()).work(burst=True, with_scheduler=False)

        # Check-in: Line has an appointment soon (demo data) and a second one she is checked in for.
        clinic = db.session.scalar(select(Schedule).where(Schedule.name.like("Travel clinic%")))
        booked = []
        for minutes in (10, 12):  # both inside the check-in window (it opens 45 minutes before)
            start = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=minutes)
            slot = Slot(schedule_id=clinic.id, healthcare_service_id=clinic.healthcare_service_id, start=start,
                        end=start + timedelta(minutes=2), status="free")
            db.session.add(slot)
            db.session.commit()
            booked.append(book_slot(slot.id, patient_id=line.id, actor=("system", "sweep")))
        open_appointment, checked_in = booked
        # Demographics confirmed, travel pay "file later": a complete check-in without a claim.
        checkin.check_in(checked_in, {**{q.name: True for q in checkin.DEMOGRAPHICS}, checkin.ASK.name: False})
        checkin_link = checkin.create_link(line.id, checkin.local_date(checked_in), "sweep")
        db.session.commit()

        northside = partners.partner_by_tenant("northside")
        users = {u.role: u for u in db.session.scalars(select(PartnerUser)
                                                       .where(PartnerUser.partner_id == northside.id))}
        partner_patient = care_requests.search_patients(northside.id, "Ada")[0]
        diary = db.session.scalar(select(Schedule).where(~Schedule.name.like("Travel clinic%")))
        free_slot = db.session.scalar(select(Slot.id).where(Slot.schedule_id == diary.id, Slot.status == "free",
                                                            Slot.start > utcnow()).order_by(Slot.start))
        triage = care_requests.send_to_triage(users["scheduler"], partner_patient.id,
                                              service_id=diary.healthcare_service_id, reason="Chest pain after a fall",
                                              answers={"address": "1 High Street"}, callback_phone="+447700900001",
                                              why="chest pain")
        referral = db.session.scalar(select(Referral.id).where(Referral.status == "awaiting_screening")
                                     .order_by(Referral.id))
        scheduler_id, patient_id = users["scheduler"].id, partner_patient.id
        seed = Seed(
            referral_id=referral, consultation_id=in_progress.id, schedule_id=diary.id, slot_id=free_slot,
            triage_id=triage.id, care_request_id=triage.id, run_id=run.id, order_id=order.id,
            partner_id=northside.id, failed_job_id=failed_job.id, staff_id=_staff_id(STAFF_EMAIL["secretary"]),
            insurer_id=order.insurer_id, deal_id=order.deal_id, patient_link=patient_link, done_link=done_link,
            checkin_link=checkin_link, checkin_open_id=open_appointment.id, checkin_done_id=checked_in.id,
            patient_id=line.id, done_patient_id=ola.id, done_consultation_id=done.id,
            fresh={"handoff_token": lambda: _handoff(app, northside.id, scheduler_id, patient_id)})
        db.session.remove()
        return seed


def _handoff(app, partner_id, user_id, patient_id):
    from portal.care_requests import services as care_requests

    with app.app_context():
        return care_requests.issue_handoff(partner_id=partner_id, user_id=user_id, patient_id=patient_id)


# --- signing in, as each role does it -----------------------------------------------------------------

def _staff(page, role, seed, app, sandbox):
    page.goto("/login")
    page.get_by_label("E-mail").fill(STAFF_EMAIL[role])
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url or url.endswith("/login/code"))
    if page.url.endswith("/login/code"):  # the demo accounts' published two-factor secret
        import pyotp

        from portal.demo import DEMO_TOTP_SECRET

        page.get_by_label("Code").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(lambda url: "/login" not in url)


def _partner(page, role, seed, app, sandbox):
    page.goto("/p/northside/login")
    page.get_by_label(PARTNER_USER[role]).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Care requests").wait_for()


def _identity(page, path, last_name, born):
    page.goto(path)
    # The demo patients' records say bokmål; the sign-in reads English labels, so it switches first.
    english = page.locator(".language-switch button[value=en]")
    if english.count():
        english.click()
        page.wait_for_load_state()
    page.get_by_label("Your last name").fill(last_name)
    page.get_by_label("Your date of birth").fill(born)
    page.get_by_role("button", name=re.compile("Continue|Check")).first.click()
    page.wait_for_load_state()


def _patient_in_room(page, role, seed, app, sandbox):
    _identity(page, f"/c/{seed['patient_link']}", *PATIENT_LINE)
    page.wait_for_url("**/c/room")


def _patient_done(page, role, seed, app, sandbox):
    _identity(page, f"/c/{seed['done_link']}", *PATIENT_OLA)
    page.wait_for_url("**/c/review")


def _checkin(page, role, seed, app, sandbox):
    _identity(page, f"/checkin/{seed['checkin_link']}", *PATIENT_LINE)
    page.wait_for_url("**/checkin/appointments")
    # Answer every question "yes" (and "file now"), up to the travel claim's review page.
    page.goto(f"/checkin/appointments/{seed['checkin_open_id']}")
    for _ in range(12):
        if page.url.endswith("/travel-pay/review"):
            return
        yes = page.get_by_label(re.compile(r"^\s*Yes"))
        if yes.count() == 0:
            break
        yes.first.check()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
    pytest.fail(f"check-in never reached the travel review: {page.url} {page.locator('main').inner_text()[:300]}")


def _direct(page, role, seed, app, sandbox):
    page.goto("/start")
    page.get_by_label("First name").fill("Dina")
    page.get_by_label("Last name").fill("Direkte")
    page.get_by_label("Date of birth").fill("1985-05-05")
    page.get_by_label("E-mail").fill("dina@example.com")
    page.get_by_label("Mobile phone").fill("+4790000042")
    page.get_by_role("button", name=re.compile("Send|Continue|link", re.I)).first.click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    run_notification_jobs(app)
    link = next(m["text"] for m in reversed(sandbox.emails) if "/start/" in m["text"])
    page.goto(re.search(r"(/start/[A-Za-z0-9_-]+)", link).group(1))
    page.get_by_label("Insurance policy number").fill("POL-1234")  # even last digit: the sandbox covers it
    page.get_by_role("button", name=re.compile("Continue|Check", re.I)).first.click()
    page.wait_for_url("**/start/need")


SIGN_IN = {"secretary": _staff, "doctor": _staff, "admin": _staff, "reporting": _staff,
           "partner_admin": _partner, "scheduler": _partner, "viewer": _partner,
           "patient": _patient_in_room, "patient_done": _patient_done, "checkin": _checkin, "direct": _direct,
           "anonymous": lambda *args: None}


def speak(page, language):
    """Switch the signed-in context to a language as the switch does (POST /language, with this page's
    CSRF token); a staff or partner user's preference, a patient's record, or an anonymous session's choice."""
    page.goto("/language")
    token = page.evaluate("() => JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    response = page.request.post("/language", form={"lang": language, "next": "/language", "csrf_token": token},
                                 max_redirects=0)
    assert response.status == 302, f"switching to {language} answered {response.status}"


# --- the sweep ------------------------------------------------------------------------------------------

# Each page is read in both languages: on the phone in bokmål (its words are longer), on the desktop in English.
LANGUAGE_BY_VIEWPORT = {"375x740": "nb", "1280x800": "en"}

@dataclass
class Findings:
    views: int = 0
    axe: list = field(default_factory=list)
    console: list = field(default_factory=list)
    overflow: list = field(default_factory=list)
    status: list = field(default_factory=list)
    access: list = field(default_factory=list)
    visited: set = field(default_factory=set)


def _visit(page, findings, where, path, viewport, expected_status):
    problems = []
    page.problems = problems
    response = page.goto(path)
    status = response.status if response else None
    if status != expected_status:
        findings.status.append(f"{where}: {path} answered {status}, expected {expected_status} ({page.url})")
        return
    page.wait_for_load_state("load")
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    from tests.browser.a11y import axe_violations, sideways_overflow

    findings.views += 1
    findings.axe += [f"{where}: {v}" for v in axe_violations(page)]
    if viewport == "375x740" and (overflow := sideways_overflow(page)) > 0:
        findings.overflow.append(f"{where}: scrolls {overflow}px sideways")
    expected = f"status of {expected_status}" if expected_status != 200 else None
    findings.console += [f"{where}: {p}" for p in problems if not (expected and expected in p)]


def _paths_for(role, seed):
    for endpoint, page in PAGES.items():
        if role in page.roles:
            yield endpoint, page


def test_sweep_every_page_as_every_role_on_phone_and_desktop(app, live_server, sandbox, capsys):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the sweep runs once per CI run, on the SQLite pass (see the module docstring)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    seed = seed_everything(app)
    roles = sorted({role for page in PAGES.values() for role in page.roles} | {r for r, _, _ in ERROR_PAGES})
    findings = Findings()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for role in roles:
                context = browser.new_context(viewport=PHONE, base_url=live_server)
                context.set_default_timeout(15000)
                page = context.new_page()
                page.problems = []
                page.on("console", lambda m, page=page: m.type == "error" and page.problems.append(m.text))
                page.on("pageerror", lambda e, page=page: page.problems.append(str(e)))
                SIGN_IN[role](page, role, seed, app, sandbox)
                for name, size in VIEWPORTS.items():
                    page.set_viewport_size(size)
                    speak(page, LANGUAGE_BY_VIEWPORT[name])
                    for endpoint, entry in _paths_for(role, seed):
                        _visit(page, findings, f"{endpoint} as {role} at {name}", entry.path.format_map(seed), name,
                               entry.status)
                        findings.visited.add(endpoint)
                    for error_role, path, status in ERROR_PAGES:
                        if error_role == role:
                            _visit(page, findings, f"error {status} as {role} at {name}", path, name, status)
                _check_refusals(context, role, seed, findings)
                context.close()
        finally:
            browser.close()

    with capsys.disabled():
        print(f"\nsweep: {len(findings.visited)} routes, {len(roles)} roles, {len(VIEWPORTS)} viewports "
              f"({', '.join(f'{v} in {LANGUAGE_BY_VIEWPORT[v]}' for v in VIEWPORTS)}), {findings.views} page views; "
              f"axe violations {len(findings.axe)}, "
              f"console errors {len(findings.console)}, 375px overflow {len(findings.overflow)}, "
              f"wrong status {len(findings.status)}, pages shown to roles not listed {len(findings.access)}")
    assert findings.visited == set(PAGES), f"never visited: {sorted(set(PAGES) - findings.visited)}"
    report = findings.status + findings.access + findings.axe + findings.console + findings.overflow
    assert not report, "\n".join(report)


def _check_refusals(context, role, seed, findings):
    """A signed-in role must not be shown a page that sweep_pages.py does not list for it (so the role
    lists are the truth, not a guess). Public pages are left out."""
    if role == "anonymous":
        return
    for endpoint, entry in PAGES.items():
        if role in entry.roles or "anonymous" in entry.roles:
            continue
        response = context.request.get(entry.path.format_map(seed), max_redirects=0)
        if response.status == 200:
            findings.access.append(f"{endpoint}: shown to {role}, which sweep_pages.py does not list")


# --- the pseudo-locale: every word a person reads went through gettext ----------------------------------

# Pages whose words are not all marked yet (staff and partner pages; every patient page is done): they are
# marked package by package. The set only shrinks:
# a page listed here that reads fully translated fails the test as well, so it leaves the set when done.
NOT_YET_TRANSLATED: set[str] = set()
# What the sign-ins type (the direct patient's details) is data too, though not in the database yet.
TYPED_WORDS = {"Dina", "Direkte", "POL"}


def test_pseudo_locale_every_page_reads_translated(app, live_server, sandbox, capsys):
    """Every page of the sweep, as each role that may see it, in the pseudo-locale (en-XA): a word left
    in plain ASCII that is not data (tests/browser/untranslated.py) is text nobody marked for translation."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("runs once per CI run, on the SQLite pass, like the sweep")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    from tests.browser.untranslated import data_words, untranslated

    seed = seed_everything(app)
    allowed = data_words(app) | TYPED_WORDS
    roles = sorted({role for page in PAGES.values() for role in page.roles} | {r for r, _, _ in ERROR_PAGES})
    found: dict[str, list[str]] = {}
    views = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for role in roles:
                context = browser.new_context(viewport=DESKTOP, base_url=live_server)
                context.set_default_timeout(15000)
                page = context.new_page()
                SIGN_IN[role](page, role, seed, app, sandbox)
                speak(page, "en_XA")
                visits = [(endpoint, entry.path.format_map(seed), entry.status)
                          for endpoint, entry in _paths_for(role, seed)]
                visits += [(f"error {status}", path, status) for error_role, path, status in ERROR_PAGES
                           if error_role == role]
                for endpoint, path, status in visits:
                    response = page.goto(path)
                    assert response and response.status == status, f"{endpoint} as {role}: {path} answered " \
                        f"{response and response.status}"
                    page.wait_for_load_state("load")
                    views += 1
                    found.setdefault(endpoint, [])
                    found[endpoint] += [f"{endpoint} as {role}: {text}" for text in untranslated(page, allowed)]
                context.close()
        finally:
            browser.close()

    plain = {endpoint for endpoint, texts in found.items() if texts}
    with capsys.disabled():
        print(f"\npseudo-locale: {len(found)} pages ({views} views, {len(roles)} roles) read in en-XA; "
              f"{len(found) - len(plain)} fully translated, {len(plain & NOT_YET_TRANSLATED)} still to mark "
              f"(NOT_YET_TRANSLATED)")
    assert not NOT_YET_TRANSLATED - set(found), f"NOT_YET_TRANSLATED names pages the sweep does not visit: " \
        f"{sorted(NOT_YET_TRANSLATED - set(found))}"
    done = sorted(NOT_YET_TRANSLATED - plain)
    assert not done, f"these pages read fully translated now: remove them from NOT_YET_TRANSLATED: {done}"
    problems = [text for endpoint in sorted(plain - NOT_YET_TRANSLATED) for text in found[endpoint]]
    assert not problems, "text not marked for translation (wrap it in _()):\n" + "\n".join(problems)
