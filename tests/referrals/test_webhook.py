"""The referral webhook, as the referral system sees it."""

import json
import time

from sqlalchemy import func, select, text

from portal.extensions import db
from portal.patients.models import Patient
from portal.referrals.models import Referral
from portal.security.models import AuditEvent


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def problem_fields(response):
    return {e["field"] for e in response.json["errors"]}


def test_seed_example_is_accepted_and_its_doubtful_phone_flagged(post_referral, seed_referral, app_ctx):
    response = post_referral(seed_referral)
    assert response.status_code == 201
    referral = db.session.get(Referral, response.json["referral_id"])
    assert referral.journal_guid == seed_referral["JournalGuid"]
    assert referral.status == "awaiting_screening"
    assert referral.phone_needs_check is True
    assert referral.message_timestamp.isoformat() == "2022-11-08T22:51:10.112715"
    patient = referral.patient
    assert (patient.first_name, patient.last_name, patient.phone) == ("Line", "Danser", "+4712345678")
    assert patient.email == "line.danser@example.com"
    assert patient.from_insurer_referral is True and patient.marketing_allowed is False
    assert patient.national_id == "13116900216"


def test_national_id_and_payload_are_not_stored_in_the_clear(post_referral, seed_referral, app_ctx):
    post_referral(seed_referral)
    raw_patient = db.session.execute(text("SELECT national_id, national_id_index FROM patients")).one()
    raw_referral = db.session.execute(text("SELECT payload FROM referrals")).one()
    assert "13116900216" not in raw_patient.national_id
    assert "13116900216" not in raw_patient.national_id_index
    assert "13116900216" not in raw_referral.payload and "Danser" not in raw_referral.payload


def test_the_same_referral_again_answers_200_and_stores_nothing_new(post_referral, seed_referral, app_ctx):
    first = post_referral(seed_referral)
    again = post_referral(dict(seed_referral))
    assert again.status_code == 200
    assert again.json == first.json
    assert count(Referral) == 1 and count(Patient) == 1


def test_same_content_with_other_key_order_is_still_a_replay(post_referral, seed_referral):
    post_referral(seed_referral)
    reordered = dict(reversed(list(seed_referral.items())))
    assert post_referral(reordered).status_code == 200


def test_same_journal_guid_with_different_content_is_a_conflict(post_referral, seed_referral, app_ctx):
    post_referral(seed_referral)
    changed = dict(seed_referral, Lastname="Dansen")
    response = post_referral(changed)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert db.session.scalar(select(Patient.last_name)) == "Danser"
    assert count(Referral) == 1


def test_a_conflicting_replay_for_another_person_leaves_no_patient_behind(post_referral, seed_referral, app_ctx):
    """The JournalGuid is not looked up before the patient is found or created: a replay naming someone
    new creates that patient inside the request's transaction, which the 409 must roll back."""
    post_referral(seed_referral)
    other_person = dict(seed_referral, PID="01019010046", Firstname="Ola", Lastname="Nordmann")
    response = post_referral(other_person)
    assert response.status_code == 409
    db.session.rollback()  # read what was committed, not this test's own view
    assert count(Patient) == 1 and count(Referral) == 1
    assert db.session.scalar(select(Patient.last_name)) == "Danser"


def test_a_second_referral_for_the_same_person_reuses_the_patient(post_referral, seed_referral, app_ctx):
    post_referral(seed_referral)
    second = dict(seed_referral, JournalGuid="6b0f9d4e-2f9e-4b8e-9d7c-0a1b2c3d4e5f")
    assert post_referral(second).status_code == 201
    assert count(Referral) == 2 and count(Patient) == 1


def test_a_later_referral_does_not_change_a_known_patients_record(post_referral, seed_referral, app_ctx):
    post_referral(seed_referral)
    renamed = dict(seed_referral, JournalGuid="6b0f9d4e-2f9e-4b8e-9d7c-0a1b2c3d4e5f", Firstname="Lina",
                   PhoneNumber="+4798765432", Email="lina@example.com")
    response = post_referral(renamed)
    assert response.status_code == 201
    db.session.rollback()
    patient = db.session.get(Referral, response.json["referral_id"]).patient
    assert (patient.first_name, patient.phone, patient.email) == ("Line", "+4712345678", "line.danser@example.com")
    assert count(Patient) == 1


def test_the_stored_payload_opens_to_what_was_sent(post_referral, seed_referral, app_ctx):
    """The payload is sealed before the transaction begins and bound as plain text: sealed once, not twice."""
    response = post_referral(seed_referral)
    referral = db.session.get(Referral, response.json["referral_id"])
    assert json.loads(referral.payload) == seed_referral
    assert referral.received_at == referral.patient.created_at


def test_email_may_be_missing(post_referral, seed_referral, app_ctx):
    del seed_referral["Email"]
    response = post_referral(seed_referral)
    assert response.status_code == 201
    assert db.session.get(Referral, response.json["referral_id"]).patient.email is None


def test_receipt_is_audited_without_patient_data(post_referral, seed_referral, app_ctx):
    response = post_referral(seed_referral)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.received"))
    assert event.subject_id == str(response.json["referral_id"])
    assert event.actor_id == "referral-webhook"
    assert "13116900216" not in json.dumps(event.details)


def test_missing_signature_is_401(client, seed_referral, app_ctx):
    response = client.post("/api/referrals", json=seed_referral)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert count(Referral) == 0


def test_wrong_secret_is_401(post_referral, seed_referral, app_ctx):
    assert post_referral(seed_referral, secret="not-the-secret").status_code == 401
    assert count(Referral) == 0


def test_tampered_body_is_401(client, app, seed_referral):
    from portal.sandbox.referral_system import signed_request

    body, headers = signed_request(app.config["REFERRAL_WEBHOOK_SECRET"], seed_referral)
    tampered = body.replace(b"Danser", b"Hacker")
    assert client.post("/api/referrals", data=tampered, headers=headers).status_code == 401


def test_stale_and_future_timestamps_are_401(post_referral, seed_referral):
    assert post_referral(seed_referral, timestamp=int(time.time()) - 301).status_code == 401
    assert post_referral(seed_referral, timestamp=int(time.time()) + 301).status_code == 401
    assert post_referral(seed_referral, timestamp=int(time.time()) - 290).status_code == 201


def test_non_numeric_timestamp_header_is_401(post_referral, seed_referral):
    response = post_referral(seed_referral, headers={"X-Referral-Timestamp": "yesterday"})
    assert response.status_code == 401


def test_invalid_json_is_400_problem(post_referral, app_ctx):
    response = post_referral(b'{"JournalGuid": ')
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "JSON" in response.json["detail"]


def test_a_json_array_is_rejected(post_referral):
    response = post_referral(b"[1, 2]")
    assert response.status_code == 400
    assert "object" in response.json["detail"]


def test_every_missing_field_is_named(post_referral, app_ctx):
    response = post_referral({"JournalGuid": "240b54a7-8c2a-4c3c-80a4-0bc63e2c9493"})
    assert response.status_code == 422
    assert problem_fields(response) == {"PID", "FormatId", "MessageTimestamp", "Firstname", "Lastname",
                                        "PhoneNumber"}
    assert count(Referral) == 0


def test_every_bad_field_is_named_at_once(post_referral, seed_referral, app_ctx):
    bad = dict(seed_referral, PID="13116900217", PhoneNumber="call me maybe", Email="not-an-email",
               MessageTimestamp="08.11.2022 22:51", JournalGuid="not-a-guid")
    response = post_referral(bad)
    assert response.status_code == 422
    assert problem_fields(response) == {"PID", "PhoneNumber", "Email", "MessageTimestamp", "JournalGuid"}
    pid_error = next(e for e in response.json["errors"] if e["field"] == "PID")
    assert "checksum" in pid_error["message"]
    assert count(Referral) == 0 and count(Patient) == 0


def test_wrong_types_are_named(post_referral, seed_referral):
    response = post_referral(dict(seed_referral, Firstname=42, PID=13116900216))
    assert response.status_code == 422
    assert problem_fields(response) == {"Firstname", "PID"}


def test_phone_of_impossible_length_is_rejected(post_referral, seed_referral):
    response = post_referral(dict(seed_referral, PhoneNumber="+47123"))
    assert response.status_code == 422
    assert problem_fields(response) == {"PhoneNumber"}


def test_body_over_64_kb_is_413(post_referral, seed_referral, app_ctx):
    big = dict(seed_referral, Padding="x" * (64 * 1024))
    response = post_referral(big)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert count(Referral) == 0


def test_body_over_the_app_limit_is_a_problem_not_a_crash(post_referral, seed_referral):
    huge = dict(seed_referral, Padding="x" * (2 * 1024 * 1024))
    response = post_referral(huge)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_get_is_405_problem(client):
    response = client.get("/api/referrals")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


def test_concurrent_identical_referrals_store_one(live_server, app, seed_referral):
    """Ten deliveries of the same referral at once: one 201, the rest 200, one row."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from portal.sandbox.referral_system import signed_request

    def deliver(_):
        body, headers = signed_request(app.config["REFERRAL_WEBHOOK_SECRET"], seed_referral)
        return requests.post(f"{live_server}/api/referrals", data=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(deliver, range(10)))
    assert statuses == [200] * 9 + [201]
    with app.app_context():
        assert count(Referral) == 1 and count(Patient) == 1
