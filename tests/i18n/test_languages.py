"""Which language a page speaks: the patient's record (and their switch), a user's preference, the
browser's Accept-Language, the install's region. Texts to patients go out in the patient's language."""

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from portal.consultations import services as consultations
from portal.consultations.models import Consultation
from portal.extensions import db
from portal.notifications.models import Notification
from portal.patients.models import Patient
from portal.security.models import AuditEvent, StaffUser
from tests.checkin.conftest import BIRTH_DATE, book_appointment, make_checkin_patient, new_link, set_up_clinic
from tests.conftest import csrf_token_from, make_consultation, make_patient, make_staff

NB = {"Accept-Language": "nb-NO,nb;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


def switch(client, page_html: str, lang: str, next_page: str):
    return client.post("/language", data={"lang": lang, "next": next_page, "csrf_token": csrf_token_from(page_html)})


def patient_language(app, patient_id):
    with app.app_context():
        return db.session.get(Patient, patient_id).language


# --- the browser and the region ------------------------------------------------------------------------

def test_a_page_speaks_the_browsers_language_and_says_so_on_html(client):
    page = client.get("/login", headers=NB).get_data(as_text=True)
    assert html_lang(page) == "nb-NO" and "Gå til hovedinnholdet" in page
    page = client.get("/login", headers=EN).get_data(as_text=True)
    assert html_lang(page) == "en-GB" and "Skip to main content" in page


def test_without_accept_language_the_install_region_decides(app, client):
    assert html_lang(client.get("/login").get_data(as_text=True)) == "en-GB"
    saved = {k: app.config[k] for k in ("PORTAL_REGION", "PORTAL_LANGUAGE")}
    app.config.update(PORTAL_REGION="NO", PORTAL_LANGUAGE="nb")
    try:
        assert html_lang(client.get("/login").get_data(as_text=True)) == "nb-NO"
        # English in a Norwegian install is written the Norwegian region's way (en_NO).
        assert html_lang(client.get("/login", headers=EN).get_data(as_text=True)) == "en-NO"
    finally:
        app.config.update(saved)


def test_norwegian_no_and_nynorsk_browsers_get_bokmal(client):
    for header in ("no", "nn-NO", "nb"):
        assert html_lang(client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)) == "nb-NO"


# --- the switch -----------------------------------------------------------------------------------------

def test_the_switch_is_on_pages_for_people_not_signed_in_and_comes_back_to_the_same_place(client):
    page = client.get("/login?next=/queue", headers=NB).get_data(as_text=True)
    assert 'class="language-switch"' in page and 'value="/login?next=/queue"' in page
    assert '<button type="submit" name="lang" value="en" lang="en"' in page
    response = switch(client, page, "en", "/login?next=/queue")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/queue"
    # The choice outranks the browser from now on.
    assert html_lang(client.get("/login", headers=NB).get_data(as_text=True)) == "en-GB"


def test_the_switch_only_goes_back_to_our_own_pages(client):
    page = client.get("/login").get_data(as_text=True)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert switch(client, page, "nb", target).headers["Location"] == "/language"


def test_a_language_we_do_not_speak_or_a_missing_token_is_refused(app, client):
    page = client.get("/login").get_data(as_text=True)
    assert switch(client, page, "de", "/login").status_code == 400
    assert client.post("/language", data={"lang": "nb", "next": "/login"}).status_code == 400  # no CSRF token
    app.config["PSEUDO_LOCALE"] = False
    try:
        assert switch(client, page, "en_XA", "/login").status_code == 400
    finally:
        app.config["PSEUDO_LOCALE"] = True


# --- staff and partner preferences ----------------------------------------------------------------------

def test_a_staff_users_preference_outranks_the_browser_and_is_kept_on_their_profile(app, staff_client):
    secretary = staff_client("secretary")
    page = secretary.get("/language", headers=EN).get_data(as_text=True)
    assert 'name="lang" value="nb"' in page and 'class="language-switch"' not in page
    response = secretary.post("/language", data={"lang": "nb", "csrf_token": csrf_token_from(page)}, headers=EN)
    assert response.status_code == 302 and response.headers["Location"] == "/language"
    page = secretary.get("/language", headers=EN).get_data(as_text=True)
    assert html_lang(page) == "nb-NO" and "Heretter bruker portalen Norsk (bokmål)." in page
    with app.app_context():
        assert db.session.scalar(select(StaffUser.language).where(StaffUser.email == "secretary@test.example")) == "nb"


@contextmanager
def counted_statements(app):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)


def test_choosing_the_language_costs_no_query_on_a_staff_page(app, staff_client):
    secretary = staff_client("secretary")
    secretary.get("/queue")  # warm: the first request of a client may load more
    by_browser = {}
    for header in (EN, NB):
        with counted_statements(app) as statements:
            assert secretary.get("/queue", headers=header).status_code == 200
        by_browser[header["Accept-Language"][:2]] = len(statements)
    with app.app_context():
        db.session.execute(db.update(StaffUser).values(language="nb"))
        db.session.commit()
    with counted_statements(app) as statements:
        page = secretary.get("/queue", headers=EN).get_data(as_text=True)
    assert html_lang(page) == "nb-NO"
    assert by_browser["en"] == by_browser["nb"] == len(statements)


# --- patients -------------------------------------------------------------------------------------------

def identify(client, path, last_name="Danser", birth=BIRTH_DATE, headers=None):
    page = client.get(path, headers=headers or {}).get_data(as_text=True)
    return page, client.post(path, data={"csrf_token": csrf_token_from(page), "last_name": last_name,
                                         "birth_date": birth}, headers=headers or {})


def consultation_link(app, cid):
    with app.app_context():
        raw = consultations.create_patient_link(db.session.get(Consultation, cid))
        db.session.commit()
    return f"/c/{raw}"


def test_a_link_opens_in_the_language_of_the_patients_record_whatever_the_browser_says(app, client):
    cid = make_consultation(app, make_patient(app, language="nb"))
    page, response = identify(client, consultation_link(app, cid), headers=EN)
    assert html_lang(page) == "nb-NO" and response.status_code == 302
    assert "<h1>Bekreft at det er deg</h1>" in page and "Etternavnet ditt" in page
    room = client.get("/c/room", headers=EN).get_data(as_text=True)
    assert html_lang(room) == "nb-NO" and "<h1>Venterom</h1>" in room and "Legen kommer snart." in room


def test_a_patient_without_a_recorded_language_gets_their_browsers(app, client):
    cid = make_consultation(app, make_patient(app, language=None))
    page, _ = identify(client, consultation_link(app, cid), headers=NB)
    assert html_lang(page) == "nb-NO"
    assert html_lang(client.get("/c/room", headers=EN).get_data(as_text=True)) == "en-GB"


def test_the_patients_switch_changes_their_record_is_audited_and_keeps_their_place(app, client):
    patient_id = make_patient(app, language="nb")
    cid = make_consultation(app, patient_id)
    identify(client, consultation_link(app, cid))
    room = client.get("/c/room").get_data(as_text=True)
    assert 'class="language-switch"' in room
    response = switch(client, room, "en", "/c/room")
    assert response.status_code == 302 and response.headers["Location"] == "/c/room"
    assert html_lang(client.get("/c/room").get_data(as_text=True)) == "en-GB"
    assert patient_language(app, patient_id) == "en"
    with app.app_context():
        changed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.language_changed")).all()
        assert [(e.patient_id, e.actor_type) for e in changed] == [(patient_id, "patient")]


def test_a_choice_made_before_the_identity_check_is_kept_and_saved_on_the_record(app, client):
    patient_id = make_patient(app, language="nb")
    path = consultation_link(app, make_consultation(app, patient_id))
    page = client.get(path).get_data(as_text=True)
    assert html_lang(page) == "nb-NO"
    switch(client, page, "en", path)
    page, response = identify(client, path)
    assert html_lang(page) == "en-GB" and response.status_code == 302
    assert html_lang(client.get("/c/room").get_data(as_text=True)) == "en-GB"
    assert patient_language(app, patient_id) == "en"


def test_switching_midway_through_check_in_keeps_the_answers_given(app, client):
    clinic = set_up_clinic(app)
    patient_id = make_checkin_patient(app, language="nb")
    appointment = book_appointment(app, clinic, patient_id)
    identify(client, f"/checkin/{new_link(app, patient_id)}")
    first = client.get(f"/checkin/appointments/{appointment}").headers["Location"]
    page = client.get(first).get_data(as_text=True)
    assert html_lang(page) == "nb-NO"
    client.post(first, data={"answer": "yes", "csrf_token": csrf_token_from(page)})
    second = client.get(f"/checkin/appointments/{appointment}").headers["Location"]
    assert "/questions/" in second and second != first
    page = client.get(second).get_data(as_text=True)
    assert switch(client, page, "en", second).headers["Location"] == second
    assert html_lang(client.get(second).get_data(as_text=True)) == "en-GB"
    # The first answer is still there: the appointment leads on to the second question, not the first.
    assert client.get(f"/checkin/appointments/{appointment}").headers["Location"] == second
    assert patient_language(app, patient_id) == "en"


def test_the_patients_page_costs_the_same_queries_in_either_language(app, client):
    cid = make_consultation(app, make_patient(app, language="nb"))
    identify(client, consultation_link(app, cid))
    client.get("/c/room")
    with counted_statements(app) as nb_statements:
        assert html_lang(client.get("/c/room").get_data(as_text=True)) == "nb-NO"
    room = client.get("/c/room").get_data(as_text=True)
    switch(client, room, "en", "/c/room")
    with counted_statements(app) as en_statements:
        assert html_lang(client.get("/c/room").get_data(as_text=True)) == "en-GB"
    assert len(nb_statements) == len(en_statements)


# --- text messages and e-mail ---------------------------------------------------------------------------

def texts_to(app, patient_id):
    with app.app_context():
        return [(n.channel, n.subject, n.body) for n in db.session.scalars(
            select(Notification).where(Notification.patient_id == patient_id).order_by(Notification.id))]


@pytest.mark.parametrize("language, words", [
    ("nb", ("En lege har tatt konsultasjonen din", "En lege tar imot deg snart")),
    ("en", ("A doctor has taken your consultation", "A doctor will see you soon")),
])
def test_the_waiting_room_link_is_texted_and_mailed_in_the_patients_language(app, language, words):
    patient_id = make_patient(app, language=language)
    cid = make_consultation(app, patient_id)
    doctor = make_staff(app, "doctor")
    with app.app_context():
        consultations.pick_consultation(db.session.get(Consultation, cid), doctor_id=doctor)
    sent = texts_to(app, patient_id)
    assert {channel for channel, _, _ in sent} == {"sms", "email"}
    assert all(words[0] in body for _, _, body in sent)
    assert [subject for channel, subject, _ in sent if channel == "email"] == [words[1]]


def test_a_request_in_english_still_texts_a_norwegian_patient_in_bokmal(app, staff_client):
    patient_id = make_patient(app, language="nb")
    cid = make_consultation(app, patient_id)
    doctor = staff_client("doctor")
    page = doctor.get(f"/consultations/{cid}", headers=EN).get_data(as_text=True)
    assert doctor.post(f"/consultations/{cid}/pick", data={"csrf_token": csrf_token_from(page)},
                       headers=EN).status_code == 302
    assert all("En lege har tatt konsultasjonen din" in body for _, _, body in texts_to(app, patient_id))


def test_the_check_in_link_is_texted_in_the_patients_language_with_the_clinics_time(app):
    from datetime import datetime

    import time_machine

    from portal.checkin.services import send_checkin_links

    clinic = set_up_clinic(app)
    patient_id = make_checkin_patient(app, language="nb")
    with time_machine.travel("2029-11-14T12:00:00Z", tick=False):
        book_appointment(app, clinic, patient_id, start=datetime(2029, 11, 15, 9, 30))
        with app.app_context():
            assert send_checkin_links(datetime(2029, 11, 14, 18, 0)) == 2
    bodies = [body for _, _, body in texts_to(app, patient_id)]
    assert bodies and all(body.startswith("Du har time i morgen kl. 09:30. Sjekk inn på mobilen") for body in bodies)
