"""Which pages the browser sweep visits, as whom, and which GET routes it leaves out and why.

A NEW PAGE IS ONE LINE HERE: its endpoint, its path (with `{names}` from `Seed`, see test_sweep.py)
and the roles that may see it. A route that renders HTML for a person must be in PAGES; anything else
goes in NOT_PAGES with the reason. test_sweep.py fails when a GET route of the URL map is in neither,
so a page cannot be forgotten. Roles: staff `secretary`, `doctor`, `admin`, `reporting`; partner
users `partner_admin`, `scheduler`, `viewer`; `patient` (consultation link, in progress), `patient_done`
(its consultation completed), `checkin` (check-in link), `direct` (direct flow, signed in by e-mail
link), `anonymous`. Sign-in for each role is in test_sweep.py (`SIGN_IN`).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    path: str
    roles: tuple[str, ...]
    status: int = 200  # what the page answers when it is shown on purpose (an error page)


DESK = ("secretary", "admin")
STAFF_ALL = ("secretary", "doctor", "admin", "reporting")
PARTNER_ALL = ("partner_admin", "scheduler", "viewer")

PAGES: dict[str, Page] = {
    # staff
    "security.login": Page("/login", ("anonymous",)),
    "main.home": Page("/", ("reporting",) + PARTNER_ALL),  # others are sent to their own list
    "referrals.queue": Page("/queue", DESK),
    "referrals.detail": Page("/referrals/{referral_id}", DESK),
    "consultations.queue": Page("/consultations", ("secretary", "doctor", "admin")),
    "consultations.detail": Page("/consultations/{consultation_id}", ("secretary", "doctor", "admin")),
    "scheduling.schedules": Page("/schedules", DESK),
    "scheduling.diary": Page("/schedules/{schedule_id}", DESK),
    "scheduling.book": Page("/slots/{slot_id}/book", DESK),
    "scheduling.admin": Page("/scheduling/admin", ("admin",)),
    "book_elsewhere.start": Page("/book-elsewhere", DESK),
    "triage.queue": Page("/triage", DESK),
    "triage.detail": Page("/triage/{triage_id}", DESK),
    "notifications.outbox": Page("/notifications", DESK),
    "travel_pay.claims": Page("/travel-claims", DESK),
    "reports.dashboard": Page("/dashboard", DESK),
    "reports.audit_browser": Page("/admin/audit?since=2000-01-01", ("admin",)),
    "reports.insurer_reports": Page("/reports/insurer", ("reporting", "admin")),
    "reports.insurer_run": Page("/reports/insurer/runs/{run_id}", ("reporting", "admin")),
    "orders.order_list": Page("/admin/orders", ("admin",)),
    "orders.order_detail": Page("/admin/orders/{order_id}", ("admin",)),
    "partners.settings.index": Page("/admin/partners", ("admin",)),
    "partners.settings.create": Page("/admin/partners/new", ("admin",)),
    "partners.settings.edit": Page("/admin/partners/{partner_id}", ("admin",)),
    "ops.queues": Page("/admin/rq", ("admin",)),
    "ops.failed": Page("/admin/rq/default/failed", ("admin",)),
    "ops.job": Page("/admin/rq/jobs/{failed_job_id}", ("admin",)),
    # The doctor treats Line (the consultation in progress) and made Ola's report; reporting gets 404.
    "patient_record.record": Page("/patients/{patient_id}", ("secretary", "doctor", "admin")),
    "patient_record.earlier_report": Page("/patients/{done_patient_id}/consultations/{done_consultation_id}/report",
                                          ("doctor", "admin")),
    "follow_ups.book": Page("/consultations/{consultation_id}/follow-up", ("doctor",)),
    "staff_admin.staff_list": Page("/admin/staff", ("admin",)),
    "staff_admin.staff_user": Page("/admin/staff/{staff_id}", ("admin",)),
    "account.active_sessions": Page("/account/sessions", STAFF_ALL),
    "account.change_password": Page("/account/password", STAFF_ALL),
    "account.two_factor_settings": Page("/account/two-factor", STAFF_ALL),
    "passwords.forgot_password": Page("/forgot-password", ("anonymous",)),
    # A link that does not work (any more) gets this page; the working links' forms are checked in
    # tests/browser/test_staff_accounts.py (axe at 375 px), since each token works once.
    "passwords.accept_invitation": Page("/invitation/not-a-token", ("anonymous",), status=410),
    "passwords.reset_password": Page("/reset-password/not-a-token", ("anonymous",), status=410),
    "insurers.insurer_list": Page("/admin/insurers", ("admin",)),
    "insurers.insurer_detail": Page("/admin/insurers/{insurer_id}", ("admin",)),
    "insurers.deal_detail": Page("/admin/deals/{deal_id}", ("admin",)),
    # partner users
    "partners.login": Page("/p/northside/login?signed_out=1", ("anonymous",)),
    "partners.callback": Page("/p/northside/callback", ("anonymous",), status=400),
    "partners.where_to_sign_in": Page("/partner/sign-in", ("anonymous",)),
    "care_requests.index": Page("/partner/care-requests", PARTNER_ALL),
    "care_requests.detail": Page("/partner/care-requests/{care_request_id}", PARTNER_ALL),
    "care_requests.new": Page("/partner/care-requests/new", ("partner_admin", "scheduler")),
    "partners.users": Page("/partner/users", ("partner_admin",)),
    "partners.profile": Page("/partner/profile", PARTNER_ALL),
    "care_requests.visit": Page("/schedule/{handoff_token}", ("scheduler",)),
    # patients
    "consultations.patient.identity_check": Page("/c/{patient_link}", ("anonymous",)),
    "consultations.patient.room": Page("/c/room", ("patient",)),
    "consultations.patient.review": Page("/c/review", ("patient_done",)),
    "checkin.identity_check": Page("/checkin/{checkin_link}", ("anonymous",)),
    "checkin.appointments": Page("/checkin/appointments", ("checkin",)),
    "checkin.appointment": Page("/checkin/appointments/{checkin_open_id}", ("checkin",)),
    "checkin.question": Page("/checkin/appointments/{checkin_open_id}/questions/contact", ("checkin",)),
    "checkin.not_eligible": Page("/checkin/appointments/{checkin_open_id}/travel", ("checkin",)),
    "checkin.travel_ask": Page("/checkin/appointments/{checkin_open_id}/travel-pay", ("checkin",)),
    "checkin.travel_later": Page("/checkin/appointments/{checkin_open_id}/travel-pay/later", ("checkin",)),
    # Shown once every question is answered "yes": the checkin role's sign-in answers them.
    "checkin.travel_review": Page("/checkin/appointments/{checkin_open_id}/travel-pay/review", ("checkin",)),
    "checkin.done": Page("/checkin/appointments/{checkin_done_id}/done", ("checkin",)),
    "consultations.direct.start": Page("/start", ("anonymous",)),
    "consultations.direct.coverage": Page("/start/coverage", ("direct",)),
    "consultations.direct.need": Page("/start/need", ("direct",)),
    # machine clients' documentation, public
    "api_docs.docs": Page("/api/docs", ("anonymous",)),
    # everyone: the language page (staff and partner users' preference; anyone may choose)
    "languages.choose": Page("/language", ("anonymous",) + DESK + ("doctor", "reporting") + PARTNER_ALL),
}

# GET routes the sweep does not open as pages, with the reason. Fragments name the page they are
# swapped into: they are checked there, as the person sees them.
NOT_PAGES: dict[str, str] = {
    "static": "files (CSS, JS, images)",
    "main.favicon": "a redirect to the SVG icon",
    "main.healthz": "JSON for load balancers",
    "main.readyz": "JSON for load balancers",
    "ops.scrape": "Prometheus text behind a bearer token",
    "consultations.api.consultation": "JSON API",
    "api_docs.openapi_json": "the OpenAPI document (JSON); its page is api_docs.docs",
    "fhir.metadata": "FHIR JSON API", "fhir.search_slots": "FHIR JSON API",
    "fhir.read_appointment": "FHIR JSON API", "fhir.read_healthcare_service": "FHIR JSON API",
    "fhir.read_location": "FHIR JSON API", "fhir.read_practitioner": "FHIR JSON API",
    "fhir.read_schedule": "FHIR JSON API",
    "fhir.read_appointment_version": "FHIR JSON API", "fhir.read_organization": "FHIR JSON API",
    "fhir.read_practitioner_role": "FHIR JSON API", "fhir.search_appointments": "FHIR JSON API",
    "reports.download_insurer_report": "an xlsx download",
    "care_requests.redeem": "a redirect to care_requests.visit (the sweep opens it through this link)",
    "security.login_code": "the second sign-in step: opened by the sweep's own sign-in of the doctor, admin and "
                           "reporting roles, and with axe at 375 px in tests/browser/test_staff_accounts.py",
    "security.set_up_two_factor": "only right after the password step of an account without two-factor: "
                                  "checked with axe at 375 px in tests/browser/test_staff_accounts.py",
    "consultations.direct.signed_in": "a redirect to consultations.direct.coverage "
                                      "(the direct role signs in through it)",
    "consultations.queue_poll": "fragment: polled into consultations.queue",
    "consultations.chat_poll": "fragment: polled into consultations.detail (the chat)",
    "consultations.icpc2_search": "fragment: options of the ICPC-2 picker on consultations.detail "
                                  "(typed into by tests/browser/test_doctor_report.py)",
    "care_requests.poll": "fragment: polled into care_requests.index",
    "consultations.patient.room_poll": "fragment: polled into consultations.patient.room",
    "consultations.patient.chat_poll": "fragment: polled into consultations.patient.room (the chat)",
}

# Error pages are not routes but people see them; the sweep opens these too (role, path, status).
ERROR_PAGES = [("anonymous", "/no-such-page", 404), ("doctor", "/admin/audit", 403)]
