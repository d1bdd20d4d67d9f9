"""Care request list and detail, users admin and profile for partner staff."""

from datetime import datetime, timedelta

from sqlalchemy import select

from portal.extensions import db


def _add_care_requests(app, partner, count, status="scheduled"):
    from portal.care_requests.models import CareRequest

    with app.app_context():
        start = datetime(2030, 1, 1)
        for n in range(count):
            db.session.add(CareRequest(partner_id=partner["id"], patient_id=partner["patient_id"], status=status,
                                       reason="r", answers="{}", created_by_id=partner["users"]["partner_admin"],
                                       created_at=start + timedelta(minutes=n)))
        db.session.commit()


def test_current_list_pages_by_25_newest_first(app, partners, partner_client):
    _add_care_requests(app, partners["northside"], 30)
    client = partner_client("northside", "viewer")
    first = client.get("/partner/care-requests").get_data(as_text=True)
    assert first.count('id="care-request-') == 25
    assert first.index('datetime="2030-01-01T00:29:00Z"') < first.index('datetime="2030-01-01T00:28:00Z"')
    assert 'rel="next"' in first
    second = client.get("/partner/care-requests?page=2").get_data(as_text=True)
    assert second.count('id="care-request-') == 6  # 5 more + the seeded triage request
    assert 'rel="next"' not in second


def test_past_tab_shows_declined_and_cancelled(app, partners, partner_client):
    _add_care_requests(app, partners["northside"], 2, status="declined")
    client = partner_client("northside", "viewer")
    past = client.get("/partner/care-requests?tab=past").get_data(as_text=True)
    assert past.count('id="care-request-') == 2 and "declined" in past
    current = client.get("/partner/care-requests").get_data(as_text=True)
    assert "declined" not in current


def test_bad_list_parameters_are_not_errors(app, partners, partner_client):
    client = partner_client("northside", "viewer")
    for query in ("page=abc", "page=-4", "page=99999999999999", "tab=<script>"):
        assert client.get(f"/partner/care-requests?{query}").status_code == 200, query


def test_each_return_of_care_request_details_is_audited_with_its_id(app, partners, partner_client):
    from portal.security.models import AuditEvent

    client = partner_client("northside", "viewer")
    care_request_id = partners["northside"]["care_request_id"]
    client.get(f"/partner/care-requests/{care_request_id}")
    client.get(f"/partner/care-requests/{care_request_id}")
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "care_request.view")))
        assert len(events) == 2
        assert all(e.details["care_request_id"] == care_request_id for e in events)
        assert all(e.patient_id == partners["northside"]["patient_id"] for e in events)
        assert all(e.actor_type == "partner" for e in events)
        listing = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "care_request.list"))
        assert listing is None
    client.get("/partner/care-requests")
    with app.app_context():
        listing = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "care_request.list"))
        assert care_request_id in listing.details["care_request_ids"]


def test_admin_invites_changes_role_and_deactivates(app, partners, partner_client):
    from portal.partners.models import PartnerUser

    client = partner_client("northside", "partner_admin")
    invited = client.post("/partner/users", data={"email": "New@Northside.example", "role": "viewer",
                                                  "csrf_token": client.csrf})
    assert invited.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(PartnerUser).where(PartnerUser.email == "new@northside.example"))
        user_id = user.id
    assert client.post("/partner/users", data={"email": "new@northside.example", "role": "viewer",
                                               "csrf_token": client.csrf}).status_code == 422
    assert client.post(f"/partner/users/{user_id}/role", data={"role": "scheduler",
                                                               "csrf_token": client.csrf}).status_code == 302
    assert client.post(f"/partner/users/{user_id}/role", data={"role": "admin",
                                                               "csrf_token": client.csrf}).status_code == 400
    assert client.post(f"/partner/users/{user_id}/deactivate", data={"csrf_token": client.csrf}).status_code == 302
    with app.app_context():
        user = db.session.get(PartnerUser, user_id)
        assert user.role == "scheduler" and user.active is False


def test_invite_with_bad_input_is_422(app, partners, partner_client):
    client = partner_client("northside", "partner_admin")
    for data in ({"email": "not-an-email", "role": "viewer"}, {"email": "a@b.example", "role": "owner"}, {}):
        assert client.post("/partner/users", data=dict(data, csrf_token=client.csrf)).status_code == 422, data


def test_admin_cannot_deactivate_themselves(app, partners, partner_client):
    client = partner_client("northside", "partner_admin")
    me = partners["northside"]["users"]["partner_admin"]
    refused = client.post(f"/partner/users/{me}/deactivate", data={"csrf_token": client.csrf})
    assert refused.status_code == 302 and refused.headers["Location"] == "/partner/users"
    page = client.get("/partner/users")
    assert page.status_code == 200 and "You cannot deactivate yourself." in page.get_data(as_text=True)
    with app.app_context():
        from portal.partners.models import PartnerUser

        assert db.session.get(PartnerUser, me).active


def test_profile_saves_name_notification_email_and_default_service(app, partners, partner_client, diary_set_up):
    from portal.partners.models import PartnerUser

    client = partner_client("northside", "viewer")
    saved = client.post("/partner/profile", data={"name": "Vic V", "notification_email": "vic+n@northside.example",
                                                  "default_service_id": diary_set_up["service_id"],
                                                  "csrf_token": client.csrf})
    assert saved.status_code == 302
    with app.app_context():
        user = db.session.get(PartnerUser, partners["northside"]["users"]["viewer"])
        assert (user.name, user.default_service_id) == ("Vic V", diary_set_up["service_id"])
    bad = client.post("/partner/profile", data={"notification_email": "nope", "default_service_id": "x",
                                                "csrf_token": client.csrf})
    assert bad.status_code == 422


def test_no_patient_data_in_partner_urls(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    page = client.get("/partner/care-requests/new").get_data(as_text=True)
    assert 'method="post" action="/partner/patients/search"' in page
    assert 'hx-post="/partner/patients/search"' in page


def test_partner_is_created_and_its_first_admin_invited_from_the_command_line(app):
    from portal.partners.models import Partner, PartnerUser

    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-partner", "--name", "Bay Care", "--tenant", "bay", "--issuer",
                               "https://idp.example/bay", "--client-id", "portal", "--client-secret", "s3cret",
                               "--rules", '{"triage_min_age": 80}'])
    assert made.exit_code == 0, made.output
    assert runner.invoke(args=["create-partner", "--name", "Bay", "--tenant", "bay", "--issuer", "x",
                               "--client-id", "y", "--client-secret", "z"]).exit_code != 0
    assert runner.invoke(args=["create-partner", "--name", "B", "--tenant", "b2", "--issuer", "x",
                               "--client-id", "y", "--client-secret", "z", "--rules", "[1"]).exit_code != 0
    invited = runner.invoke(args=["invite-partner-user", "--tenant", "bay", "--email", "boss@bay.example"])
    assert invited.exit_code == 0, invited.output
    with app.app_context():
        partner = db.session.scalar(select(Partner).where(Partner.tenant == "bay"))
        assert partner.idp_client_secret == "s3cret"
        stored = db.session.execute(select(Partner.__table__.c.idp_client_secret)
                                    .where(Partner.id == partner.id)).scalar()
        raw = db.session.connection().exec_driver_sql(
            "SELECT idp_client_secret FROM partners WHERE tenant = 'bay'").scalar()
        assert stored == "s3cret" and "s3cret" not in raw
        assert db.session.scalar(select(PartnerUser.role).where(PartnerUser.email == "boss@bay.example")) == \
            "partner_admin"


def test_malformed_eligibility_rules_never_break_scheduling(app, partners):
    from portal.care_requests import services
    from portal.partners.models import Partner
    from portal.patients.models import Patient

    with app.app_context():
        partner = db.session.get(Partner, partners["northside"]["id"])
        partner.eligibility_rules = {"triage_min_age": "old", "triage_symptoms": [None, 3, ""]}
        patient = db.session.get(Patient, partners["northside"]["patient_id"])
        assert services.triage_reason(partner, patient, "cough", datetime(2030, 1, 1).date()) is None


def test_users_and_profile_pages_and_their_refusals_read_in_bokmal(app, partners, partner_client):
    nb = {"Accept-Language": "nb-NO,nb;q=0.9"}
    client = partner_client("northside", "partner_admin")
    users = client.get("/partner/users", headers=nb).get_data(as_text=True)
    assert "Inviter en bruker" in users and "timebestiller" in users and ">Partneradministrator</option>" in users
    invite = {"email": "ny@northside.example", "role": "viewer", "csrf_token": client.csrf}
    assert client.post("/partner/users", headers=nb, data=invite).status_code == 302
    taken = client.post("/partner/users", headers=nb, data=invite)
    assert taken.status_code == 422 and "Den e-postadressen er allerede invitert." in taken.get_data(as_text=True)
    me = partners["northside"]["users"]["partner_admin"]
    last = client.post(f"/partner/users/{me}/role", headers=nb, follow_redirects=True,
                       data={"role": "viewer", "csrf_token": client.csrf}).get_data(as_text=True)
    assert "Dette er den siste partneradministratoren i organisasjonen deres." in last
    profile = client.get("/partner/profile", headers=nb).get_data(as_text=True)
    assert "Din profil" in profile and "partneradministrator hos Northside" in profile
