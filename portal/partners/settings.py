"""Partner organisations as staff admins set them up: name, tenant, identity provider,
self-scheduling and eligibility rules. What a valid rule is lives here once. No Flask request here."""

from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.input_rules import MAX_STRING_CHARS, TextRejected, clean_text
from portal.partners.models import TENANT_PATTERN, Partner, PartnerUser
from portal.partners.services import InvalidInput, NotFound, end_sessions_of_users
from portal.security import audit


class InvalidSetting(InvalidInput):
    """A partner setting that cannot be saved; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def create_partner(*, name: str, tenant: str, idp_issuer: str, idp_client_id: str, idp_client_secret: str | None,
                   self_scheduling: bool = True, eligibility_rules: dict | None = None) -> Partner:
    partner = Partner(name=name, tenant=tenant, idp_issuer=idp_issuer, idp_client_id=idp_client_id,
                      idp_client_secret=idp_client_secret, self_scheduling=self_scheduling,
                      eligibility_rules=eligibility_rules or {})
    db.session.add(partner)
    db.session.commit()
    return partner


RULE_KEYS = ("triage_symptoms", "triage_min_age", "triage_max_age")
MAX_SYMPTOMS = 50
MAX_SYMPTOM_LENGTH = 100
MAX_AGE = 130
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_eligibility_rules(rules) -> dict:
    """The eligibility rules as they are stored, or InvalidSetting naming the rule that is malformed.

    `triage_symptoms`: words that send a visit to triage when the reason contains them;
    `triage_min_age`: patients this old or older go to triage; `triage_max_age`: this young or younger.
    """
    if not isinstance(rules, dict):
        raise InvalidSetting("rules", _("Eligibility rules must be an object."))
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise InvalidSetting("rules", _("Unknown eligibility rule: %(rule)s.", rule=unknown[0]))
    symptoms = rules.get("triage_symptoms") or []
    if not isinstance(symptoms, list) or not all(isinstance(s, str) for s in symptoms):
        raise InvalidSetting("triage_symptoms", _("Symptoms must be text, one per line."))
    try:
        symptoms = list(dict.fromkeys(clean_text(s, max_length=MAX_STRING_CHARS).lower() for s in symptoms
                                      if s.strip()))
    except TextRejected as exc:
        raise InvalidSetting("triage_symptoms", _("A symptom: %(problem)s.", problem=exc.message)) from None
    if len(symptoms) > MAX_SYMPTOMS:
        raise InvalidSetting("triage_symptoms", _("Give at most %(n)d symptoms.", n=MAX_SYMPTOMS))
    if any(len(s) > MAX_SYMPTOM_LENGTH for s in symptoms):
        raise InvalidSetting("triage_symptoms", _("Keep each symptom under %(n)d characters.", n=MAX_SYMPTOM_LENGTH))
    checked: dict = {"triage_symptoms": symptoms} if symptoms else {}
    for key in ("triage_min_age", "triage_max_age"):
        value = rules.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
            raise InvalidSetting(key, _("Enter an age from 0 to %(max)d.", max=MAX_AGE))
        checked[key] = value
    oldest, youngest = checked.get("triage_min_age"), checked.get("triage_max_age")
    if oldest is not None and youngest is not None and youngest >= oldest:
        raise InvalidSetting("triage_max_age", _("With these two ages every patient would go to triage."))
    return checked


def check_issuer(issuer: str) -> str:
    """An OIDC issuer URL: https, or http only on this machine (the sandbox provider)."""
    issuer = (issuer or "").strip()
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.query or parts.fragment or len(issuer) > 500:
        raise InvalidSetting("idp_issuer", _("Enter the provider's issuer URL, e.g. %(example)s.", example="https://login.example.org/"))
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        raise InvalidSetting("idp_issuer", _("The issuer URL must start with %(scheme)s.", scheme="https://"))
    return issuer


def list_partners() -> list[Partner]:
    return list(db.session.scalars(select(Partner).order_by(Partner.name, Partner.id)))


def get_partner(partner_id: int) -> Partner | None:
    return db.session.get(Partner, partner_id)


def count_users(partner_id: int) -> int:
    """How many active users a partner has (what its deactivation would sign out)."""
    return db.session.scalar(select(func.count()).select_from(PartnerUser)
                             .where(PartnerUser.partner_id == partner_id, PartnerUser.active.is_(True)))


def _setting_text(field: str, value) -> str:
    try:
        return clean_text(value or "", max_length=200)
    except TextRejected as exc:
        raise InvalidSetting(field, _("This field is required.") if not (value or "").strip()
                             else exc.message[0].upper() + exc.message[1:] + ".") from None


def save_partner(partner_id: int | None, *, name: str, tenant: str, idp_issuer: str, idp_client_id: str,
                 idp_client_secret: str | None, self_scheduling: bool, eligibility_rules: dict) -> Partner:
    """Create a partner (partner_id None) or change its settings. An empty secret keeps the stored one.

    Sign-in picks up new provider settings at once (the authlib client is keyed by them). When the
    issuer changes, the partner's users are unlinked: subjects belong to one provider, so each user
    is linked again by their e-mail at their next sign-in at the new one.
    """
    tenant = (tenant or "").strip()
    if not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidSetting("tenant", _("Use lower-case letters, digits and hyphens (e.g. north-care)."))
    settings = {"name": _setting_text("name", name), "tenant": tenant, "idp_issuer": check_issuer(idp_issuer),
                "idp_client_id": _setting_text("idp_client_id", idp_client_id),
                "self_scheduling": bool(self_scheduling),
                "eligibility_rules": check_eligibility_rules(eligibility_rules)}
    if idp_client_secret:
        settings["idp_client_secret"] = idp_client_secret
    elif partner_id is None:
        raise InvalidSetting("idp_client_secret", _("Enter the client secret."))
    partner = Partner() if partner_id is None else db.session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(partner_id)
    # Names of what changed, never values: the secret must not reach the audit log.
    changed = sorted(k for k, v in settings.items() if partner_id is None or k == "idp_client_secret"
                     or getattr(partner, k) != v)
    issuer_changed = partner_id is not None and partner.idp_issuer != settings["idp_issuer"]
    for key, value in settings.items():
        setattr(partner, key, value)
    db.session.add(partner)
    try:
        db.session.flush()
    except IntegrityError:  # the unique tenant: another admin saved the same slug first
        db.session.rollback()
        raise InvalidSetting("tenant", _("Another partner has this tenant slug.")) from None
    unlinked = 0
    if issuer_changed:
        unlinked = db.session.execute(update(PartnerUser).where(PartnerUser.partner_id == partner.id)
                                      .values(idp_issuer=None, idp_subject=None)).rowcount
    audit.record("partner.create" if partner_id is None else "partner.settings", subject=partner,
                 partner_id=partner.id, changed=changed, users_unlinked=unlinked)
    db.session.commit()
    return partner


def _switch_partner(partner_id: int, active: bool) -> tuple[Partner, list[int]] | None:
    """One conditional UPDATE of the partner's flag; None when it already was so (two admins at once:
    one of them changes it, and one audit event is written)."""
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(partner_id)
    switched = db.session.execute(update(Partner).where(Partner.id == partner_id, Partner.active.is_(not active))
                                  .values(active=active).execution_options(synchronize_session=False)).rowcount
    if not switched:
        db.session.rollback()
        return None
    user_ids = list(db.session.scalars(select(PartnerUser.id).where(PartnerUser.partner_id == partner_id,
                                                                    PartnerUser.active.is_(True))))
    return partner, user_ids


def deactivate_partner(partner_id: int) -> int | None:
    """Switch a partner organisation off: every session of its users ends at once (on every web
    process), none of them can sign in, and its links stop working (its sign-in page says access is off;
    handoff and e-mailed links need a signed-in user of an active partner). Its care requests stay with
    the clinic. Returns how many of its users were signed out, or None when it was off already."""
    switched = _switch_partner(partner_id, active=False)
    if switched is None:
        return None
    partner, user_ids = switched
    # The epoch shuts their cookies out even if Redis fails below; the loader also checks the partner.
    db.session.execute(update(PartnerUser).where(PartnerUser.partner_id == partner_id)
                       .values(session_epoch=PartnerUser.session_epoch + 1))
    audit.record("partner.deactivated", subject=partner, partner_id=partner_id, users_signed_out=len(user_ids))
    db.session.commit()
    end_sessions_of_users(user_ids)
    return len(user_ids)


def reactivate_partner(partner_id: int) -> bool:
    """Switch it on again: its active users can sign in (users deactivated one by one stay so).
    False when it was on already."""
    switched = _switch_partner(partner_id, active=True)
    if switched is None:
        return False
    partner, _users = switched
    audit.record("partner.reactivated", subject=partner, partner_id=partner_id)
    db.session.commit()
    return True
