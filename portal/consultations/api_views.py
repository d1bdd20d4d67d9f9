"""The consultation API (`/api/consultations/<id>`), JSON with the seed's field names, for the
assigned doctor (staff session) or the linked patient (patient session)."""

from flask import Blueprint, session
from flask_login import current_user

from portal import sqlite_writer
from portal.consultations import services
from portal.consultations.models import IN_PROGRESS
from portal.errors import problem
from portal.security import audit
from portal.security.policy import can, patient_may

# A child of the consultations blueprint: endpoints consultations.api.*.
bp = Blueprint("api", __name__, url_prefix="/api")


def consultation_document(consultation, *, for_doctor: bool) -> dict:
    """The seed's field names. A doctor gets only doctor keys, a patient only patient keys."""
    doctor = consultation.service_provider
    video = services.video_room_of(consultation)
    chat = services.chat_room_of(consultation)
    live_now = consultation.state == IN_PROGRESS
    video_doc = chat_doc = None
    if video is not None and live_now:
        key = services.video_key(consultation, for_doctor=for_doctor)
        video_doc = {"name": video.name, "externalId": video.external_id,
                     ("serviceProviderKey" if for_doctor else "patientKey"): key}
    if chat is not None and live_now:
        token = services.chat_token(consultation, for_doctor=for_doctor)
        chat_doc = {"id": chat.external_id, ("serviceProviderJwt" if for_doctor else "patientJwt"): token}
    return {
        "id": consultation.id,
        "patient": {"id": consultation.patient_id, "name": consultation.patient.full_name,
                    "phoneNumber": consultation.patient.phone},
        "serviceProvider": {"id": doctor.id, "fullName": doctor.name} if doctor else None,
        "source": consultation.source,
        "state": consultation.state,
        "videoRoom": video_doc,
        "chatRoom": chat_doc,
        "serviceProviderId": consultation.service_provider_id,
        "enabledChannels": consultation.enabled_channels,
        "primaryChannel": consultation.primary_channel,
        "category": consultation.category,
        "code": consultation.code,
        "options": consultation.options,
    }


@bp.get("/consultations/<int:consultation_id>")
@sqlite_writer.audited_page
def consultation(consultation_id: int):
    """For the assigned doctor (staff session) or the linked patient (patient session); 404 for anyone else."""
    consultation = services.get_consultation(consultation_id)
    not_found = problem(404, "Not found", "No such consultation.")
    if consultation is None:
        return not_found
    if can(current_user, "consultation.api", consultation):
        audit.record_read("consultation.api_read", subject=consultation, patient_id=consultation.patient_id)
        return consultation_document(consultation, for_doctor=True)
    access = session.get("patient_access")
    if not getattr(current_user, "is_authenticated", False) and patient_may(access, "consultation.api", consultation):
        audit.record_read("consultation.api_read", subject=consultation, patient_id=consultation.patient_id,
                          actor=("patient", str(consultation.patient_id)))
        return consultation_document(consultation, for_doctor=False)
    return not_found
