"""Staff accounts made from the command line and by the demo data."""

from sqlalchemy import select

from portal.extensions import db
from portal.security.models import StaffUser


def create_or_update_user(email: str, password: str, role: str, name: str) -> StaffUser:
    email = email.strip().lower()
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        user = StaffUser(email=email)
        db.session.add(user)
    user.name, user.role, user.active = name, role, True
    user.set_password(password)
    db.session.commit()
    return user
