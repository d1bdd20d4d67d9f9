"""Staff administration: list, invite, change role, deactivate and reactivate. Every change is audited,
and every change that narrows what a person may do ends their sessions at once.

The clinic always keeps an active admin: the change is one conditional UPDATE, and changes to admins
queue up behind row locks on the active admins (PostgreSQL; SQLite's writers already take turns), so
of two admins demoting each other at once, the second sees the first's change and is refused.
"""

from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from portal.extensions import db
from portal.notifications import services as outbox
from portal.security import audit, passwords, sessions
from portal.security.models import STAFF_ROLES, StaffUser, utcnow

PAGE_SIZE = 25


class StaffError(Exception):
    pass


class InvalidInput(StaffError):
    pass


class NotFound(StaffError):
    pass


class LastAdmin(StaffError):
    """The change would leave the clinic without an active admin."""


@dataclass
class StaffPage:
    users: list[StaffUser]
    total: int
    page: int
    pages: int


def list_staff(query: str = "", page: int = 1) -> StaffPage:
    """Staff by name, 25 a page; `query` matches name or e-mail, case-insensitively."""
    statement = select(StaffUser)
    text = (query or "").strip().lower()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(func.lower(StaffUser.name).like(pattern, escape="\\"),
                                        StaffUser.email.like(pattern, escape="\\")))
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    users = list(db.session.scalars(statement.order_by(func.lower(StaffUser.name), StaffUser.id)
                                    .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return StaffPage(users=users, total=total, page=page, pages=pages)


def get_staff(user_id: int) -> StaffUser | None:
    return db.session.get(StaffUser, user_id)


def _send_link(user: StaffUser, purpose: str) -> None:
    """Queue the invitation or reset e-mail in the caller's transaction; `dispatch` after the commit."""
    token = passwords.issue_link_token(user, purpose)
    if purpose == passwords.INVITE:
        link = url_for("passwords.accept_invitation", token=token, _external=True)
        subject = _("You are invited to Care Portal")
        text = _("Hello %(name)s,\n\nyou have been given a Care Portal account. Choose your password here "
                 "(the link works once, for 72 hours):\n\n%(link)s\n", name=user.name, link=link)
    else:
        link = url_for("passwords.reset_password", token=token, _external=True)
        subject = _("Reset your Care Portal password")
        text = _("Hello %(name)s,\n\nsomeone (we hope you) asked to reset your Care Portal password. Choose a new "
                 "one here (the link works once, for 30 minutes):\n\n%(link)s\n\nIf it was not you, ignore this "
                 "e-mail: your password stays as it is.\n", name=user.name, link=link)
    return outbox.queue_email(to=user.email, subject=subject, text=text, kind=f"staff_{purpose}")


def invite_staff(*, name: str, email: str, role: str) -> StaffUser:
    """A new account without a password, and an e-mail with a single-use link to choose one."""
    if role not in STAFF_ROLES:
        raise InvalidInput(_("Choose a role."))
    email = email.strip().lower()
    if db.session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise InvalidInput(_("There is already an account with this e-mail address."))
    # No password can match "!": argon2 refuses the hash, so the account opens only through the link.
    user = StaffUser(email=email, name=name.strip(), role=role, password_hash="!invited", active=True,
                     invited_at=utcnow())
    db.session.add(user)
    db.session.flush()
    notification = _send_link(user, passwords.INVITE)
    audit.record("staff.invited", subject=user, role=role)
    db.session.commit()
    outbox.dispatch([notification])
    return user


def resend_invitation(user_id: int) -> None:
    user = _existing(user_id)
    if not user.invited or not user.active:
        raise InvalidInput(_("This person has already chosen a password."))
    notification = _send_link(user, passwords.INVITE)
    audit.record("staff.invitation_resent", subject=user)
    db.session.commit()
    outbox.dispatch([notification])


def send_password_reset(email: str) -> None:
    """A reset link for an active account with this e-mail; for any other address nothing happens, and the
    caller answers the same either way."""
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None or not user.active:
        return
    notification = _send_link(user, passwords.RESET)
    audit.record("staff.password_reset_requested", subject=user, actor=("system", None))
    db.session.commit()
    outbox.dispatch([notification])


def tell_password_changed(user: StaffUser, how: str) -> object:
    """The e-mail that tells a person their password changed (in the caller's transaction)."""
    return outbox.queue_email(
        to=user.email, subject=_("Your Care Portal password was changed"), kind="staff_password_changed",
        text=_("Hello %(name)s,\n\nyour Care Portal password was %(how)s just now, and your other sessions were "
               "signed out.\n\nIf this was not you, tell your clinic's administrator at once.\n",
               name=user.name, how=how))


def _existing(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(user_id)
    return user


def _lock_active_admins() -> None:
    db.session.execute(select(StaffUser.id).where(StaffUser.role == "admin", StaffUser.active.is_(True))
                       .with_for_update())


def _keeps_an_admin(user_id: int):
    """SQL condition: after changing this user the clinic still has an active admin."""
    others = (select(func.count()).select_from(StaffUser)
              .where(StaffUser.id != user_id, StaffUser.role == "admin", StaffUser.active.is_(True))
              .scalar_subquery())
    return or_(StaffUser.role != "admin", StaffUser.active.is_(False), others > 0)


def _change(user_id: int, values: dict, keep_admin: bool) -> StaffUser:
    """One conditional UPDATE that also moves the session epoch on; refuses (LastAdmin) a change that
    would remove the last active admin."""
    _lock_active_admins()
    statement = update(StaffUser).where(StaffUser.id == user_id)
    if keep_admin:
        statement = statement.where(_keeps_an_admin(user_id))
    result = db.session.execute(statement.values(session_epoch=StaffUser.session_epoch + 1, **values)
                                .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        _existing(user_id)
        raise LastAdmin(_("This is the last active admin. Make someone else admin first."))
    user = _existing(user_id)
    db.session.refresh(user)
    return user


def _end_sessions(user: StaffUser) -> None:
    # After the commit: the epoch already shuts old cookies out; this drops the records (and the list) now.
    try:
        sessions.end_sessions(user)
    except sessions.RedisDown:
        pass  # the epoch did it; the records run out with their TTL


def change_role(user_id: int, role: str) -> StaffUser:
    if role not in STAFF_ROLES:
        raise InvalidInput(_("Choose a role."))
    before = _existing(user_id).role
    if before == role:
        return _existing(user_id)
    user = _change(user_id, {"role": role}, keep_admin=role != "admin")
    audit.record("staff.role_changed", subject=user, before=before, after=role)
    db.session.commit()
    _end_sessions(user)
    return user


def deactivate(user_id: int) -> StaffUser:
    user = _change(user_id, {"active": False}, keep_admin=True)
    audit.record("staff.deactivated", subject=user)
    db.session.commit()
    _end_sessions(user)
    return user


def reactivate(user_id: int) -> StaffUser:
    user = _change(user_id, {"active": True}, keep_admin=False)
    audit.record("staff.reactivated", subject=user)
    db.session.commit()
    return user
