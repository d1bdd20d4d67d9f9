"""Demo data for `make run`: staff with known passwords, patients, referrals in every state.

Idempotent: referrals are keyed by fixed JournalGuids, staff by e-mail.
"""

import json
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app

from portal.care_requests.demo import load_demo_partner_patients
from portal.checkin.demo import load_demo_checkin
from portal.extensions import db
from portal.fhir.oauth import SCOPES, ensure_api_client
from portal.orders.demo import load_demo_insurer
from portal.partners.demo import load_demo_partners
from portal.referrals import intake, services
from portal.referrals.models import Referral
from portal.scheduling.demo import load_demo_schedule
from portal.security import two_factor
from portal.security.staff_users import create_or_update_user

DEMO_PASSWORD = "demo-password-1"
# Demo accounts whose role needs two-factor share this published TOTP secret: `flask demo-codes` prints their
# current code (or add the secret to an authenticator app). Never used for an account that is not a demo one.
DEMO_TOTP_SECRET = "CAREPORTALDEMOTOTPSECRETFORDEMOS"
DEMO_STAFF = [
    ("secretary@example.org", "secretary", "Sara Sekretær"),
    ("doctor@example.org", "doctor", "Dr. Didrik Lege"),
    ("admin@example.org", "admin", "Ada Admin"),
    ("reporting@example.org", "reporting", "Rita Rapport"),
]
# Synthetic fødselsnumre with valid checksums; none belongs to a real person.
DEMO_PATIENTS = [
    ("13116900216", "Line", "Danser", "line.danser@example.com", "+4712345678"),
    ("01018012371", "Ola", "Nordmann", "ola@example.com", "+4791234567"),
    ("15076500565", "Kari", "Hansen", None, "+4792345678"),
    ("29029600013", "Per", "Olsen", "per.olsen@example.com", "+4741234567"),
    ("31120041269", "Ingrid", "Berg", "ingrid@example.com", "+4793456789"),
    ("24081050070", "Nils", "Dahl", None, "+4745678901"),
]
NAMESPACE = uuid.UUID("6f1b8a4e-6d1c-4f0e-9a77-3c0e5b2f9d10")


def demo_payload(index: int, pid: str, first: str, last: str, email: str | None, phone: str) -> dict:
    # Fixed, so that loading the demo again replays the same referrals instead of conflicting.
    stamp = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc) + timedelta(minutes=10 * index)
    payload = {
        "JournalGuid": str(uuid.uuid5(NAMESPACE, f"demo-{index}")),
        "PID": pid,
        "FormatId": "http://ehelse.no/xmlstds/henvisning/2017-11-30",
        "MessageTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
        "Firstname": first,
        "Lastname": last,
        "PhoneNumber": phone,
    }
    if email:
        payload["Email"] = email
    return payload


def load_demo_data() -> list[str]:
    lines = ["Demo staff (password for all: %s):" % DEMO_PASSWORD]
    staff = {}
    for email, role, name in DEMO_STAFF:
        staff[role] = create_or_update_user(email, DEMO_PASSWORD, role, name)
        second_step = ""
        if two_factor.required_for(staff[role]):
            two_factor.enable_with_secret(staff[role], DEMO_TOTP_SECRET)
            db.session.commit()
            second_step = "  (two-factor: code from `flask demo-codes`)"
        lines.append(f"  {role:<10} {email}{second_step}")
    lines += load_demo_insurer()  # orders: before any consultation, so insurance consultations are billed to it
    received = []
    for index, (pid, first, last, email, phone) in enumerate(DEMO_PATIENTS):
        body = json.dumps(demo_payload(index, pid, first, last, email, phone)).encode()
        referral_id, _ = services.receive_referral(intake.parse_referral(body))
        received.append(db.session.get(Referral, referral_id))
    secretary = staff["secretary"].id
    # The last two referrals show the handled states; the rest wait in the queue.
    if len(received) >= 3 and received[-1].status == "awaiting_screening":
        services.decline_referral(received[-1], reason="Duplicate referral", by_id=secretary)
    if len(received) >= 3 and received[-2].status == "awaiting_screening":
        services.convert_to_consultation(received[-2], enabled_channels=["VIDEO", "CHAT", "PHONE"],
                                         primary_channel="VIDEO", category="insurance", options={}, by_id=secretary)
    if received and received[0].call_attempt_count == 0:
        services.log_call_attempt(received[0], outcome="no_answer", note="Tried before lunch", by_id=secretary)
    db.session.commit()
    lines.append(f"Referrals: {len(received)} (awaiting screening, converted, declined)")
    lines += load_demo_schedule()
    # "Book elsewhere" books at this portal's own FHIR API through the sandbox's directories.
    ensure_api_client(client_id=current_app.config["BOOKING_CLIENT_ID"],
                      secret=current_app.config["BOOKING_CLIENT_SECRET"], name="This portal (loopback consumer)",
                      scopes=list(SCOPES))
    lines.append(f"API client for loopback booking: {current_app.config['BOOKING_CLIENT_ID']}")
    lines += load_demo_partners()
    lines += load_demo_partner_patients()
    lines += load_demo_checkin()
    return lines
