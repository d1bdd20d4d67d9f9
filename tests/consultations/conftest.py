"""Helpers for the patient's side of a consultation: the link, the identity check, a started
consultation. Shared with the ops and video tests."""

import re

from sqlalchemy import select

from portal.consultations import services
from portal.consultations.models import Consultation
from portal.extensions import db
from portal.notifications.models import Notification
from tests.conftest import csrf_token_from

HX = {"HX-Request": "true"}
BIRTH = "1969-11-13"  # of the patient made by make_patient (fødselsnummer 13116900216)


def load(cid):
    return db.session.get(Consultation, cid, populate_existing=True)


def start(app, cid, doctor):
    with app.app_context():
        services.pick_consultation(load(cid), doctor_id=doctor)
        services.start_consultation(load(cid), doctor_id=doctor)
        body = db.session.scalar(select(Notification.body).where(Notification.channel == "sms",
                                                                 Notification.consultation_id == cid)
                                 .order_by(Notification.id.desc()))
    return re.search(r"(/c/[A-Za-z0-9_-]+)", body).group(1)


def link_for(app, cid):
    """A link for a consultation not yet started (the clinic can send one for the waiting room)."""
    with app.app_context():
        raw = services.create_patient_link(load(cid))
        db.session.commit()
    return f"/c/{raw}"


def check(c, path, last_name="Danser", birth=BIRTH):
    token = csrf_token_from(c.get(path).get_data(as_text=True))
    return c.post(path, data={"csrf_token": token, "last_name": last_name, "birth_date": birth})
