"""Partner users: invitations, roles, the last admin, sign-in linking and profiles. No Flask request here.

Every function that reads partner data takes the partner id and filters by it; callers get the
partner id from `policy.partner_scope(user)`, so a user of one partner never reaches another's rows.
"""

import logging

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.partners.models import PARTNER_ROLES, Partner, PartnerUser
from portal.scheduling.models import HealthcareService
from portal.security import audit, sessions
from portal.security.models import utcnow

log = logging.getLogger(__name__)


class PartnerError(Exception):
    """Base of the errors callers show to people."""


class NotFound(PartnerError, LookupError):
    pass


class InvalidInput(PartnerError, ValueError):
    pass


def partner_by_tenant(tenant: str, *, include_deactivated: bool = False) -> Partner | None:
    """The active partner of this tenant slug (sign-in works only for these); with include_deactivated,
    also one an admin switched off, so its people can be told so instead of 'not found'."""
    query = select(Partner).where(Partner.tenant == tenant)
    if not include_deactivated:
        query = query.where(Partner.active.is_(True))
    return db.session.scalar(query)


def invite_user(partner_id: int, *, email: str, role: str, name: str | None = None) -> PartnerUser:
    """An invited user signs in later; the first sign-in with this e-mail links their identity."""
    email = (email or "").strip().lower()
    if role not in PARTNER_ROLES:
        raise InvalidInput(_("Choose a role."))
    if "@" not in email or len(email) > 254:
        raise InvalidInput(_("Enter an e-mail address."))
    user = PartnerUser(partner_id=partner_id, email=email, role=role, name=name)
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise InvalidInput(_("That e-mail address is already invited.")) from None
    audit.record("partner_user.invite", subject=user, partner_id=partner_id)
    db.session.commit()
    return user


def list_users(partner_id: int) -> list[PartnerUser]:
    return list(db.session.scalars(select(PartnerUser).where(PartnerUser.partner_id == partner_id)
                                   .order_by(PartnerUser.email)))


def get_user(partner_id: int, user_id: int) -> PartnerUser | None:
    return db.session.scalar(select(PartnerUser).where(PartnerUser.partner_id == partner_id,
                                                       PartnerUser.id == user_id))


class LastAdmin(PartnerError):
    """The change would leave the partner without an active partner_admin."""


def _lock_partner(partner_id: int) -> None:
    # Changes to one partner's admins queue up behind a row lock on the partner (PostgreSQL), so of
    # two admins demoting each other at once the second re-reads after the first committed. SQLite
    # ignores FOR UPDATE; its writes already start with BEGIN IMMEDIATE and so run one at a time.
    db.session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())


def _keeps_an_admin(partner_id: int, user_id: int):
    """SQL condition: after changing this user the partner still has an active partner_admin."""
    others = (select(func.count()).select_from(PartnerUser)
              .where(PartnerUser.partner_id == partner_id, PartnerUser.id != user_id,
                     PartnerUser.role == "partner_admin", PartnerUser.active.is_(True))
              .scalar_subquery())
    return or_(PartnerUser.role != "partner_admin", PartnerUser.active.is_(False), others > 0)


def _change_user(partner_id: int, user_id: int, values: dict, keep_admin: bool) -> None:
    """One conditional UPDATE that also moves the session epoch on; refuses (LastAdmin) a change that
    would remove the last admin."""
    _lock_partner(partner_id)
    statement = update(PartnerUser).where(PartnerUser.partner_id == partner_id, PartnerUser.id == user_id)
    if keep_admin:
        statement = statement.where(_keeps_an_admin(partner_id, user_id))
    values = {"session_epoch": PartnerUser.session_epoch + 1, **values}
    result = db.session.execute(statement.values(**values).execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return
    db.session.rollback()
    if get_user(partner_id, user_id) is None:
        raise NotFound(user_id)
    raise LastAdmin(_("This is the last partner admin of your organisation. Make someone else partner admin first."))


def end_sessions_of_users(user_ids) -> None:
    """After the commit: the epoch already shuts old cookies out; this drops their records (on every
    web process) now. With Redis down the records run out with their TTL."""
    try:
        sessions.end_sessions_of([f"partner:{user_id}" for user_id in user_ids])
    except sessions.RedisDown:
        log.warning("partner sessions not ended in Redis (unreachable); the session epoch shuts them out")


def change_role(partner_id: int, user_id: int, role: str) -> None:
    """A new role ends the user's sessions: they sign in again with it."""
    if role not in PARTNER_ROLES:
        raise InvalidInput(_("Choose a role."))
    user = get_user(partner_id, user_id)
    if user is not None and user.role == role:
        return  # nothing changes, so nobody is signed out
    _change_user(partner_id, user_id, {"role": role}, keep_admin=role != "partner_admin")
    audit.record("partner_user.role", partner_user_id=user_id, partner_id=partner_id, role=role)
    db.session.commit()
    end_sessions_of_users([user_id])


def deactivate_user(partner_id: int, user_id: int) -> None:
    """The user is signed out everywhere at once and cannot sign in again."""
    _change_user(partner_id, user_id, {"active": False}, keep_admin=True)
    audit.record("partner_user.deactivate", partner_user_id=user_id, partner_id=partner_id)
    db.session.commit()
    end_sessions_of_users([user_id])


def user_for_sign_in(partner: Partner, *, issuer: str, subject: str, email: str | None) -> PartnerUser | None:
    """The active user of this partner with this identity; an invited e-mail is linked on first sign-in.

    The issuer must be the partner's own: a token from tenant A's provider never signs anyone into B.
    A refusal is logged with its reason and the tenant only (no e-mail, no subject), so support can
    tell "not invited" from "the provider sent no e-mail" without personal data in the logs.
    """
    if issuer != partner.idp_issuer or not subject:
        return _refuse(partner, "issuer_mismatch" if subject else "no_subject")
    user = db.session.scalar(select(PartnerUser).where(PartnerUser.idp_issuer == issuer,
                                                       PartnerUser.idp_subject == subject))
    if user is None and email:
        # Link only a not-yet-linked invitation of this partner (conditional UPDATE: once).
        result = db.session.execute(
            update(PartnerUser)
            .where(PartnerUser.partner_id == partner.id, PartnerUser.email == email.strip().lower(),
                   PartnerUser.idp_subject.is_(None))
            .values(idp_issuer=issuer, idp_subject=subject))
        if result.rowcount == 1:
            user = db.session.scalar(select(PartnerUser).where(PartnerUser.idp_issuer == issuer,
                                                               PartnerUser.idp_subject == subject))
            audit.record("partner_user.linked", subject=user, actor=("partner", str(user.id)))
    if user is None:
        return _refuse(partner, "not_invited" if email else "no_verified_email")
    if user.partner_id != partner.id:
        return _refuse(partner, "other_partner")
    if not user.active:
        return _refuse(partner, "deactivated")
    user.last_login_at = utcnow()
    audit.record("partner.login", subject=user, actor=("partner", str(user.id)))
    db.session.commit()
    return user


def _refuse(partner: Partner, reason: str) -> None:
    db.session.rollback()
    log.warning("partner sign-in refused: tenant=%s reason=%s", partner.tenant, reason)
    return None


def update_profile(user: PartnerUser, *, name: str | None, notification_email: str | None,
                   default_service_id: int | None) -> None:
    user.name = (name or "").strip()[:200] or None
    user.notification_email = (notification_email or "").strip().lower()[:254] or None
    user.default_service_id = default_service_id
    db.session.commit()


def service_choices() -> list[tuple[int, str]]:
    """The active service lines, for a visit's service or a profile's default service."""
    rows = db.session.execute(select(HealthcareService.id, HealthcareService.name)
                              .where(HealthcareService.active.is_(True)).order_by(HealthcareService.name))
    return [(row.id, row.name) for row in rows]
