"""The referral system (Pridok EPJ) stand-in: makes referrals in the seed format and signs them."""

import json
import random
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import requests
from stdnum.no import fodselsnummer

from portal.referrals.intake import sign

FIRST_NAMES = ["Line", "Ola", "Kari", "Per", "Ingrid", "Nils", "Astrid", "Lars", "Sofie", "Emil", "Nora", "Jonas"]
LAST_NAMES = ["Danser", "Nordmann", "Hansen", "Olsen", "Berg", "Dahl", "Johansen", "Larsen", "Haugen", "Bakke"]


def random_fodselsnummer(rng: random.Random) -> str:
    """A synthetic fødselsnummer with valid check digits (born 1940-1999, individual number 000-499)."""
    while True:
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
        candidate = born.strftime("%d%m%y") + f"{rng.randrange(500):03d}"
        for check in range(100):
            number = candidate + f"{check:02d}"
            if fodselsnummer.is_valid(number):
                return number


def random_referral(rng: random.Random | None = None) -> dict:
    rng = rng or random.Random()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    payload = {
        "JournalGuid": str(uuid.uuid4()),
        "PID": random_fodselsnummer(rng),
        "FormatId": "http://ehelse.no/xmlstds/henvisning/2017-11-30",
        "MessageTimestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
        "Firstname": first,
        "Lastname": last,
        "PhoneNumber": f"+479{rng.randrange(10**7):07d}",
    }
    if rng.random() < 0.8:
        payload["Email"] = f"{first}.{last}@example.com".lower()
    return payload


def signed_request(secret: str, payload: dict | bytes, timestamp: int | None = None) -> tuple[bytes, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "X-Referral-Timestamp": stamp,
        "X-Referral-Signature": sign(secret, stamp, body),
    }
    return body, headers


def send_referrals(portal_url: str, secret: str, count: int) -> list[tuple[int, str]]:
    results = []
    with requests.Session() as session:
        for _ in range(count):
            body, headers = signed_request(secret, random_referral())
            response = session.post(f"{portal_url}/api/referrals", data=body, headers=headers, timeout=10)
            results.append((response.status_code, response.text.strip()))
    return results
