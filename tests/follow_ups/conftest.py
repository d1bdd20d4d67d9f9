"""A consultation in progress with its doctor, an insurer whose deal prices follow-ups, and a diary."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from tests.conftest import make_consultation, make_patient, make_staff, sign_in
from tests.orders.fixtures import make_insurer

DOCTOR = "doctor@test.example"
FOLLOW_UP_PRICE = "300.00"


def add_follow_up_price(app, insurer_id: int, price: str = FOLLOW_UP_PRICE, channel: str = "ANY") -> None:
    from portal.orders.models import Deal, DealPrice

    with app.app_context():
        deal = db.session.scalar(select(Deal).where(Deal.insurer_id == insurer_id))
        db.session.add(DealPrice(deal_id=deal.id, kind="follow_up", channel=channel, price=Decimal(price)))
        db.session.commit()


def in_progress(app, doctor_id: int, patient_id: int | None = None) -> int:
    from portal.consultations import services

    consultation_id = make_consultation(app, patient_id or make_patient(app))
    with app.app_context():
        services.pick_consultation(services.get_consultation(consultation_id), doctor_id=doctor_id)
        services.start_consultation(services.get_consultation(consultation_id), doctor_id=doctor_id)
        db.session.remove()
    return consultation_id


@pytest.fixture
def consultation(app, sandbox, diary_set_up):
    """{"id", "doctor_id", "patient_id", "insurer_id", "schedule_id"}: a video consultation in progress."""
    insurer_id = make_insurer(app, prices={"VIDEO": "650.00", "ANY": "450.00"})
    add_follow_up_price(app, insurer_id)
    doctor_id = make_staff(app, "doctor", DOCTOR, "Dr. Ada Lind")
    patient_id = make_patient(app)
    consultation_id = in_progress(app, doctor_id, patient_id)
    return {"id": consultation_id, "doctor_id": doctor_id, "patient_id": patient_id, "insurer_id": insurer_id,
            "schedule_id": diary_set_up["schedule_id"], "service_id": diary_set_up["service_id"]}


@pytest.fixture
def doctor(app, consultation):
    from tests.conftest import csrf_token_from

    client = app.test_client()
    assert sign_in(client, DOCTOR).status_code == 302
    client.csrf = csrf_token_from(client.get(f"/consultations/{consultation['id']}").get_data(as_text=True))
    return client
