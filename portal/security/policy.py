"""Who may do what to which object: the one place access is decided.

Views ask `authorize(action, obj)`; it raises 403 for a role that may never do the action
and 404 for an object the user may not know exists, so nobody can probe for ids.
"""

from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app
from flask_login import current_user

SCREENING_ROLES = {"secretary", "admin"}
CONSULTATION_STAFF = {"doctor", "secretary", "admin"}

# action -> roles allowed. Object-level rules, where an action has them, are in OBJECT_RULES.
ROLE_RULES: dict[str, set[str]] = {
    "referral.screen": SCREENING_ROLES,
    "referral.view": SCREENING_ROLES,
    "user.manage": {"admin"},
    "staff.manage": {"admin"},  # /admin/staff: invite, role, deactivate, two-factor reset
    "schedule.view": SCREENING_ROLES,
    "slot.block": SCREENING_ROLES,
    "schedule.manage": {"admin"},
    "booking.remote": SCREENING_ROLES,
    "appointment.book": SCREENING_ROLES,
    "appointment.cancel": SCREENING_ROLES,
    # Doctors pick from the open list; secretaries work the same list to assign doctors and cancel.
    "consultation.queue": CONSULTATION_STAFF,
    "consultation.view": CONSULTATION_STAFF,
    "consultation.pick": {"doctor"},
    "consultation.assign": {"secretary", "admin"},
    "consultation.conduct": {"doctor"},  # start, chat, finish, file the report
    "consultation.cancel": CONSULTATION_STAFF,
    "consultation.api": {"doctor"},
    "consultation_result.read": {"doctor", "admin"},
    "notification.view": {"secretary", "admin"},
    "audit.browse": {"admin"},
    "travel_claim.view": SCREENING_ROLES,
    "travel_claim.resubmit": SCREENING_ROLES,
    "check_in.front_desk": SCREENING_ROLES,
    # Dashboards show aggregates only (counts, durations, outcome totals), never a patient.
    "dashboard.view": SCREENING_ROLES,
    "ops.queues": {"admin"},  # the job queues pages at /admin/rq
    "ops.requeue": {"admin"},  # run a failed job again from /admin/rq
    "triage.handle": SCREENING_ROLES,
    "partner.manage": {"admin"},  # partner organisations: settings, identity provider, eligibility rules
    # orders and the insurer report
    "order.view": {"admin"},
    "order.discount": {"admin"},
    "insurer.manage": {"admin"},  # insurers, deals and their price lists
    "insurer_report.request": {"reporting", "admin"},
    "insurer_report.download": {"reporting", "admin"},
    # Partner staff. Their roles never overlap staff roles, so a staff user can do none of these
    # and a partner user none of the above.
    "care_request.list": {"partner_admin", "scheduler", "viewer"},
    "care_request.view": {"partner_admin", "scheduler", "viewer"},
    "care_request.schedule": {"partner_admin", "scheduler"},
    "partner_patient.search": {"partner_admin", "scheduler"},
    "partner_patient.create": {"partner_admin", "scheduler"},
    "partner_user.manage": {"partner_admin"},
    "partner.profile": {"partner_admin", "scheduler", "viewer"},
    "partner.settings.view": {"partner_admin"},  # their own partner's settings, read-only
    # The patient record (/patients/<id>): details, history, earlier reports. See PatientRelation below.
    "patient_record.view": CONSULTATION_STAFF,
    "patient_record.national_id": CONSULTATION_STAFF,
    # Opening an earlier consultation's sealed report from the record, with a reason; secretaries
    # see that a report exists, never what it says.
    "patient_record.report": {"doctor", "admin"},
    # A follow-up (a new consultation or an appointment) booked from a consultation by its doctor.
    "consultation.follow_up": {"doctor"},
}

# A refusal of these answers 404 for every role, not 403: their URLs name a patient, and whoever
# may not see the record may not learn whether that patient exists.
HIDDEN_ACTIONS = {"patient_record.view", "patient_record.national_id", "patient_record.report"}


def _referral_visible(user, referral) -> bool:
    # Every screener sees every referral today; the hook is here for clinic scoping later.
    return True


def _consultation_visible(user, consultation) -> bool:
    # A doctor sees what is free to pick and what is theirs; secretaries and admins see all.
    if user.role == "doctor":
        return consultation.service_provider_id in (None, user.id)
    return True


def _assigned_doctor(user, consultation) -> bool:
    return consultation.service_provider_id == user.id


def _may_cancel(user, consultation) -> bool:
    return user.role != "doctor" or consultation.service_provider_id == user.id


def _may_read_result(user, result) -> bool:
    # A medical record: its author and admins only (the reporting job reads through its own service).
    return user.role == "admin" or result.author_id == user.id


@dataclass(frozen=True)
class PatientRelation:
    """What the patient record's rules need to know about a patient: who treats them.

    `doctor_ids`: doctors who have (or had) a consultation with the patient; `in_queue`: the patient
    has a consultation waiting for any doctor to pick. Built in full by the patient record's service
    (one query); `of_consultation` builds the part one consultation shows, for a link on its page.
    The rule only grows with more facts, so a link the partial facts allow opens the full record.
    """

    patient_id: int
    doctor_ids: frozenset = frozenset()
    in_queue: bool = False

    @classmethod
    def of_consultation(cls, consultation) -> "PatientRelation":
        doctor = consultation.service_provider_id
        return cls(consultation.patient_id, frozenset({doctor}) if doctor else frozenset(),
                   consultation.state == "ready_for_pickup" and doctor is None)


def _treats_patient(user, relation: PatientRelation) -> bool:
    # Secretaries and admins run the clinic for every patient. A doctor sees the patients they treat or
    # treated, and those waiting in the queue they may pick from: the record is there to prepare for,
    # conduct and follow up care, not to browse.
    if user.role != "doctor":
        return True
    return relation.in_queue or user.id in relation.doctor_ids


def _same_partner(user, obj) -> bool:
    # Care requests, partner users and partner links all carry partner_id; a user of partner A
    # never reaches B's objects, and a staff user (no partner_id) reaches none.
    partner_id = getattr(user, "partner_id", None)
    return partner_id is not None and getattr(obj, "partner_id", None) == partner_id


OBJECT_RULES = {
    "referral.view": _referral_visible,
    "referral.screen": _referral_visible,
    "consultation.view": _consultation_visible,
    # Any doctor may try to pick any consultation: the database decides who was first, and a
    # late doctor is told "already taken" (the consultation was in the queue they saw).
    "consultation.pick": lambda user, consultation: True,
    "consultation.conduct": _assigned_doctor,
    "consultation.api": _assigned_doctor,
    "consultation.cancel": _may_cancel,
    "consultation_result.read": _may_read_result,
    "patient_record.view": _treats_patient,
    "patient_record.national_id": _treats_patient,
    "patient_record.report": _treats_patient,
    "consultation.follow_up": _assigned_doctor,
    "care_request.view": _same_partner,
    "care_request.schedule": _same_partner,
    "partner_user.manage": _same_partner,
}


def partner_scope(user) -> int:
    """The partner id every query of partner data is filtered by; 404 for anyone without one."""
    partner_id = getattr(user, "partner_id", None)
    if not getattr(user, "is_authenticated", False) or partner_id is None:
        abort(404)
    return partner_id


def can(user, action: str, obj=None) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "role", None) not in ROLE_RULES.get(action, set()):
        return False
    rule = OBJECT_RULES.get(action)
    return obj is None or rule is None or rule(user, obj)


def rule_for_rows(user, action: str):
    """`can(user, action, row)` for every row of one list: whether the role may is decided once, and only
    the object rule, bound to the user, is asked per row. A list page asks for each of its rows, and `can`
    through the current_user proxy each time was a tenth of its render."""
    user = user._get_current_object() if hasattr(user, "_get_current_object") else user
    if not can(user, action):
        return lambda obj: False
    rule = OBJECT_RULES.get(action)
    return (lambda obj: True) if rule is None else (lambda obj: rule(user, obj))


def may_open_records_by_id(user) -> bool:
    """`patient_record.view` for patients a list knows by id only, with no facts about who treats them:
    the rule then reads nothing of the patient, so one answer holds for every row (secretaries and admins
    yes, doctors no: their links need the facts, which a consultation's page gives)."""
    return can(user, "patient_record.view", PatientRelation(patient_id=0))


def authorize(action: str, obj=None) -> None:
    if not getattr(current_user, "is_authenticated", False):
        abort(current_app.login_manager.unauthorized())
    if getattr(current_user, "role", None) not in ROLE_RULES.get(action, set()):
        abort(404 if action in HIDDEN_ACTIONS else 403)
    if obj is not None and not can(current_user, action, obj):
        abort(404)


def authorize_found(action: str, obj):
    """`obj` if it exists and the signed-in user may do `action` to it; 404 for a missing record, so a
    loader reads `return authorize_found("order.view", services.get_order(order_id))`."""
    if obj is None:
        abort(404)
    authorize(action, obj)
    return obj


def requires(action: str):
    """View decorator: the signed-in user's role must allow `action`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            authorize(action)
            return view(*args, **kwargs)

        return wrapped

    return decorator


# --- machine clients (OAuth2 client credentials on the FHIR API) ----------------------------------

# action -> the token scope it needs.
CLIENT_SCOPE_RULES: dict[str, str] = {
    "fhir.slot.search": "slot/*.read",
    "fhir.appointment.book": "appointment/*.write",
    "fhir.appointment.read": "appointment/*.write",
    "fhir.appointment.search": "appointment/*.write",
    "fhir.appointment.cancel": "appointment/*.write",
    "fhir.schedule.read": "schedule/*.read",
    # The scope list has no practitioner scope; a practitioner is one of a schedule's actors
    # (already sent with slot searches that include them), so reading one needs what schedules need.
    "fhir.practitioner.read": "schedule/*.read",
    # A PractitionerRole is the practitioner's part in one schedule: it is read as schedules are.
    "fhir.practitionerrole.read": "schedule/*.read",
    "fhir.organization.read": "organization/*.read",
    "fhir.location.read": "location/*.read",
    "fhir.healthcareservice.read": "healthcareservice/*.read",
}


def _client_booked(client_id: str, appointment) -> bool:
    # A client sees and changes only the appointments it booked itself.
    return appointment.booked_by == f"api_client:{client_id}"


CLIENT_OBJECT_RULES = {
    "fhir.appointment.read": _client_booked,
    "fhir.appointment.cancel": _client_booked,
}


def client_decision(client_id: str, scopes: list[str], action: str, obj=None) -> int:
    """200 when the client may, 403 when its token lacks the scope, 404 for an object it may not know of."""
    needed = CLIENT_SCOPE_RULES.get(action)
    if needed is None or needed not in scopes:
        return 403
    rule = CLIENT_OBJECT_RULES.get(action)
    if obj is not None and rule is not None and not rule(client_id, obj):
        return 404
    return 200
# -- patients: they arrive by link and prove who they are; they have no staff account -----------

def patient_may(access: dict | None, action: str, consultation) -> bool:
    """A patient who passed the identity check for a link may see and act on that consultation only.

    `access` is what the patient's session holds after the check: the consultation and patient ids.
    """
    if not access or consultation is None:
        return False
    if action not in {"consultation.view", "consultation.chat", "consultation.review", "consultation.api"}:
        return False
    return access.get("consultation_id") == consultation.id and access.get("patient_id") == consultation.patient_id


def patient_may_check_in(access: dict | None, appointment) -> bool:
    """A patient who passed the check-in identity check may check in their own appointments only.

    `access` is what the session holds after the check: the patient id.
    """
    if not access or appointment is None:
        return False
    return access.get("patient_id") == appointment.patient_id
