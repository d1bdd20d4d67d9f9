"""The referral system's webhook (`POST /api/referrals`): HMAC-signed, no session, so no CSRF."""

import time

from flask import Blueprint, current_app, request

from portal import sqlite_writer
from portal.errors import problem
from portal.extensions import csrf, limiter
from portal.referrals import intake, services

# A child of the referrals blueprint: endpoints referrals.api.*.
bp = Blueprint("api", __name__, url_prefix="/api")


@bp.post("/referrals")
@csrf.exempt
@limiter.exempt
def receive():
    """Webhook from the referral system; authenticated by an HMAC signature, not a session."""
    if (request.content_length or 0) > intake.MAX_BODY_BYTES:
        return problem(413, "Payload too large", f"A referral may be at most {intake.MAX_BODY_BYTES} bytes.")
    body = request.get_data(cache=False)
    if len(body) > intake.MAX_BODY_BYTES:
        return problem(413, "Payload too large", f"A referral may be at most {intake.MAX_BODY_BYTES} bytes.")
    why = intake.signature_problem(
        current_app.config["REFERRAL_WEBHOOK_SECRET"], request.headers.get("X-Referral-Timestamp"),
        request.headers.get("X-Referral-Signature"), body, time.time(),
        current_app.config["REFERRAL_MAX_SKEW_SECONDS"],
    )
    if why:
        return problem(401, "Signature not accepted", why)
    # Parsing and storing only compute and write: one such request at a time per worker process.
    with sqlite_writer.one_writer_per_process():
        try:
            incoming = intake.parse_referral(body)
        except intake.InvalidReferral as exc:
            return problem(400 if exc.unreadable else 422, "Referral not accepted",
                           "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in exc.errors),
                           errors=exc.errors)
        try:
            referral_id, created = services.receive_referral(incoming)
        except services.ReferralConflict as exc:
            return problem(409, "Conflicting referral",
                           "A referral with this JournalGuid was already received with different content.",
                           referral_id=exc.referral_id)
    return {"referral_id": referral_id}, 201 if created else 200
