"""Nothing a sender gave is lost: a referral for a known patient with other details shows both, the
secretary chooses per detail; several open referrals for one patient are flagged and can be closed as
duplicates without losing them."""

import re
from datetime import datetime

import pytest
from markupsafe import escape
from sqlalchemy import select, text

from portal.extensions import db
from portal.i18n import formatting
from portal.patients.models import Patient
from portal.referrals.models import AWAITING, DUPLICATE, Referral
from portal.security.models import AuditEvent
from tests.conftest import SEED_REFERRAL

HX = {"HX-Request": "true"}
FIRST = dict(SEED_REFERRAL, PhoneNumber="+4791234567", Email="line.danser@example.com")
# The same patient (same PID) a week later, from another practice with other details and a doubtful phone.
SECOND = dict(SEED_REFERRAL, JournalGuid="6f4c3c1e-2b0a-4a8e-9f7b-0d1c2e3f4a5b", Firstname="Line Marie",
              Lastname="Danser-Berg", PhoneNumber="+47 12 34 56 78", Email="line.berg@example.org",
              MessageTimestamp="2022-11-15T09:00:00Z")


def referral_ids(app):
    with app.app_context():
        return list(db.session.scalars(select(Referral.id).order_by(Referral.id)))


def patient(app) -> Patient:
    with app.app_context():
        return db.session.scalar(select(Patient))


def events(app, action):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def choose(c, referral_id, decision):
    return c.post(f"/referrals/{referral_id}/sent-details", data={"csrf_token": c.csrf, "decision": decision},
                  headers=HX)


@pytest.fixture
def two_referrals(post_referral, app):
    assert post_referral(FIRST).status_code == 201
    assert post_referral(SECOND).status_code == 201
    return referral_ids(app)


def sent_row(html, field, referral_id):
    match = re.search(rf'<li id="sent-{field}-{referral_id}">(.*?)</li>', html, re.S)
    return match and re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_a_referral_with_other_details_keeps_them_and_shows_them_beside_the_record(app, staff_client, two_referrals):
    first, second = two_referrals
    record = patient(app)
    assert (record.first_name, record.last_name, record.phone) == ("Line", "Danser", "+4791234567")
    html = staff_client("secretary").get(f"/referrals/{second}").get_data(as_text=True)
    assert sent_row(html, "name", second).startswith(
        "Name On the record Line Danser As sent Line Marie Danser-Berg")
    assert sent_row(html, "phone", second).startswith(
        "Phone On the record +4791234567 As sent +4712345678 check number")
    assert sent_row(html, "email", second).startswith(
        "E-mail On the record line.danser@example.com As sent line.berg@example.org")
    # The first referral made the record: nothing differs there.
    assert "Sent with this referral" not in staff_client("secretary").get(f"/referrals/{first}").get_data(as_text=True)


def test_the_phone_badge_is_judged_on_the_number_shown(app, staff_client, two_referrals):
    first, second = two_referrals
    secretary = staff_client("secretary")
    queue = secretary.get("/queue").get_data(as_text=True)
    # Both rows show the record's valid number, so neither says "check number" beside it.
    assert queue.count('href="tel:+4791234567"') == 2 and "check number" not in queue
    panel = secretary.get(f"/referrals/{second}").get_data(as_text=True)
    facts = panel[panel.index('<dl class="facts">'):panel.index("</dl>")]
    assert "+4791234567" in facts and "check number" not in facts
    assert "check number" in sent_row(panel, "phone", second).split("+4712345678")[1]  # beside the sent number only


def test_updating_the_record_from_the_sent_phone_is_audited_without_the_value(app, staff_client, two_referrals):
    first, second = two_referrals
    secretary = staff_client("secretary")
    answer = choose(secretary, second, "phone:updated")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "now has the phone this referral sent" in html
    assert "Record updated from this referral" in sent_row(html, "phone", second)
    record = patient(app)
    assert (record.phone, record.phone_needs_check) == ("+4712345678", True)
    assert (record.first_name, record.email) == ("Line", "line.danser@example.com")  # the others untouched
    [event] = events(app, "patient.details_updated")
    assert event.details == {"fields": ["phone"], "from_referral": second}
    assert "+4712345678" not in str(event.details)
    # Now the record's number is the doubtful one, and the queue's badge says so.
    assert secretary.get("/queue").get_data(as_text=True).count("check number") == 2


def test_keeping_the_record_is_remembered_and_audited(app, staff_client, two_referrals):
    first, second = two_referrals
    secretary = staff_client("secretary")
    html = choose(secretary, second, "name:kept").get_data(as_text=True)
    assert "keeps its name" in html and "Record kept" in sent_row(html, "name", second)
    assert (patient(app).first_name, patient(app).last_name) == ("Line", "Danser")
    [event] = events(app, "referral.sent_detail_kept")
    assert event.details == {"field": "name"}
    with app.app_context():
        assert db.session.get(Referral, second).sent_name_choice == "kept"
    # The other details still wait for a choice.
    assert "Update the record" in sent_row(html, "email", second)


@pytest.mark.parametrize("decision", ["", "phone", "phone:deleted", "national_id:updated", "name:updated:x"])
def test_a_bad_choice_changes_nothing(app, staff_client, two_referrals, decision):
    first, second = two_referrals
    answer = choose(staff_client("secretary"), second, decision)
    assert answer.status_code == 422
    assert patient(app).phone == "+4791234567" and not events(app, "patient.details_updated")


def test_choosing_needs_csrf_and_a_screening_role(app, staff_client, two_referrals):
    first, second = two_referrals
    secretary = staff_client("secretary")
    assert secretary.post(f"/referrals/{second}/sent-details", data={"decision": "phone:updated"}).status_code == 400
    doctor = staff_client("doctor")
    assert doctor.post(f"/referrals/{second}/sent-details",
                       data={"csrf_token": doctor.csrf, "decision": "phone:updated"}).status_code == 403
    assert patient(app).phone == "+4791234567"


def test_open_referrals_for_one_patient_are_flagged_on_the_queue_with_links_to_each_other(
        app, staff_client, post_referral, two_referrals):
    from tests.referrals.test_queue import referral_payload

    post_referral(referral_payload(7, first="Other"))
    first, second, other = referral_ids(app)
    queue = staff_client("secretary").get("/queue").get_data(as_text=True)
    assert queue.count("2 open for this patient") == 2
    assert f'id="same-patient-{first}-{second}" href="/referrals/{second}"' in queue
    assert f'id="same-patient-{second}-{first}" href="/referrals/{first}"' in queue
    assert f'id="same-patient-{other}-' not in queue


def test_marking_a_duplicate_closes_it_keeps_it_and_links_both_ways(app, staff_client, two_referrals):
    first, second = two_referrals
    secretary = staff_client("secretary")
    answer = secretary.post(f"/referrals/{second}/duplicate", data={"csrf_token": secretary.csrf,
                                                                    "duplicate_of": first}, headers=HX)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert f"Marked as a duplicate of referral {first}" in answer.get_data(as_text=True)
    with app.app_context():
        closed = db.session.get(Referral, second)
        assert (closed.status, closed.duplicate_of_id) == (DUPLICATE, first)
        assert db.session.get(Referral, first).status == AWAITING
    [event] = events(app, "referral.marked_duplicate")
    assert event.details == {"duplicate_of": first} and event.subject_id == str(second)
    queue = secretary.get("/queue").get_data(as_text=True)
    assert "1 referral waiting" in queue and "open for this patient" not in queue
    # Not lost: its panel still shows what it sent, and says what it repeats.
    closed_panel = secretary.get(f"/referrals/{second}").get_data(as_text=True)
    assert f'href="/referrals/{first}">referral {first}</a>' in closed_panel
    assert "line.berg@example.org" in closed_panel
    original = secretary.get(f"/referrals/{first}").get_data(as_text=True)
    assert f'id="other-{first}-{second}"' in original and "duplicate" in original


def test_a_referral_cannot_repeat_itself_another_patients_referral_or_a_duplicate(
        app, staff_client, post_referral, two_referrals):
    from tests.referrals.test_queue import referral_payload

    post_referral(referral_payload(7, first="Other"))
    first, second, other = referral_ids(app)
    secretary = staff_client("secretary")

    def mark(referral_id, of):
        return secretary.post(f"/referrals/{referral_id}/duplicate", data={"csrf_token": secretary.csrf,
                                                                           "duplicate_of": of}, headers=HX)

    assert mark(second, second).status_code == 422
    assert mark(second, other).status_code == 422
    assert mark(second, 99999).status_code == 422
    assert mark(second, first).status_code == 200
    # The first is now the only one left; the duplicate cannot be chosen as what it repeats.
    assert mark(first, second).status_code == 422
    assert mark(second, first).status_code == 409  # already closed
    with app.app_context():
        assert db.session.get(Referral, first).status == AWAITING


def test_two_secretaries_marking_two_referrals_duplicates_of_each_other_close_only_one(app, two_referrals):
    from portal.referrals import services

    first, second = two_referrals
    with app.app_context():
        services.mark_duplicate(db.session.get(Referral, second), of_id=first, by_id=None)
        db.session.remove()
    with app.app_context():
        with pytest.raises(services.InvalidAction):
            services.mark_duplicate(db.session.get(Referral, first), of_id=second, by_id=None)
        assert db.session.get(Referral, first).status == AWAITING


def test_what_was_sent_is_kept_sealed_in_the_referral(app, two_referrals):
    # The payload, the referral exactly as sent, is the one source the panel reads (referrals stored
    # before the panel compared details have it too); at rest it is sealed like other patient data.
    first, second = two_referrals
    with app.app_context():
        assert "Danser-Berg" in db.session.get(Referral, second).payload
        raw = db.session.execute(text("SELECT payload FROM referrals WHERE id = :id"), {"id": second}).scalar()
        assert "Danser-Berg" not in raw and "line.berg" not in raw and "12 34 56 78" not in raw


def test_a_referral_whose_payload_is_not_a_referral_shows_its_panel_without_a_comparison(app, staff_client):
    from datetime import datetime

    from tests.conftest import make_patient

    patient_id = make_patient(app)
    with app.app_context():
        referral = Referral(journal_guid="guid-other-means", patient_id=patient_id, format_id="test",
                            message_timestamp=datetime(2026, 1, 1), payload="{}", payload_fingerprint="f" * 64)
        db.session.add(referral)
        db.session.commit()
        referral_id = referral.id
    secretary = staff_client("secretary")
    page = secretary.get(f"/referrals/{referral_id}")
    assert page.status_code == 200 and "Sent with this referral" not in page.get_data(as_text=True)
    assert choose(secretary, referral_id, "phone:updated").status_code == 422
    assert patient(app).phone == "+4791234567"


@pytest.mark.parametrize("language, status", [("nb", "venter på vurdering"), ("en", "awaiting screening")])
def test_the_duplicate_choice_says_when_the_other_arrived_in_the_readers_language_and_the_installs_zone(
        app, staff_client, two_referrals, monkeypatch, language, status):
    first, second = two_referrals
    with app.app_context():
        db.session.execute(text("UPDATE referrals SET received_at = :at WHERE id = :id"),
                           {"at": datetime(2030, 7, 8, 8, 5), "id": first})  # summer: 09:05 in London
        db.session.commit()
    html = staff_client("secretary").get(f"/referrals/{second}", headers={"Accept-Language": language}) \
        .get_data(as_text=True)
    [label] = re.findall(rf'<option value="{first}">([^<]*)</option>', html)
    assert "UTC" not in label and "awaiting_screening" not in label
    with app.test_request_context(headers={"Accept-Language": language}):
        received = formatting.when(datetime(2030, 7, 8, 8, 5))
    assert "09:05" in received
    word = {"nb": "Henvisning", "en": "Referral"}[language]
    assert label == escape(f"{word} {first}, {'mottatt' if language == 'nb' else 'received'} {received} ({status})")
