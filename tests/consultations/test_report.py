"""The encrypted report: validation, sealing, who may read it, and the audit of every read."""

import pytest
from sqlalchemy import func, select, text

from portal.consultations import results, services
from portal.consultations.models import Consultation, ConsultationResult
from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import make_consultation, make_staff

PANEL = {"HX-Request": "true", "HX-Target": "consultation-panel"}
CHILD_FNR = "01018012371"  # synthetic, valid checksum


def load(cid):
    return db.session.get(Consultation, cid, populate_existing=True)


@pytest.fixture
def completed(app, sandbox, staff_client):
    doctor_client = staff_client("doctor")
    cid = make_consultation(app)
    for step in ("pick", "start", "finish"):
        assert doctor_client.post(f"/consultations/{cid}/{step}", data={"csrf_token": doctor_client.csrf},
                                  headers=PANEL).status_code == 200
    return doctor_client, cid


def file(c, cid, **fields):
    data = {"csrf_token": c.csrf, "icpc2_code": "R74 Upper respiratory infection acute", "outcome": "helped",
            "patient_national_id": "", "job_description": "Carpenter", "policy_number": "POL-123",
            "notes": "Rest and fluids.", **fields}
    return c.post(f"/consultations/{cid}/report", data=data, headers=PANEL)


def test_doctor_files_the_report_and_sees_it(app, completed):
    doctor, cid = completed
    response = file(doctor, cid, patient_national_id=CHILD_FNR)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Report filed" in html and "Rest and fluids." in html
    with app.app_context():
        result = db.session.scalar(select(ConsultationResult))
        assert result.icpc2_code == "R74" and result.patient_national_id == CHILD_FNR
        assert result.author_id == load(cid).service_provider_id


def test_a_database_dump_shows_no_plaintext_of_the_report(app, completed):
    doctor, cid = completed
    file(doctor, cid, patient_national_id=CHILD_FNR)
    with app.app_context():
        row = db.session.execute(text("SELECT icpc2_code, outcome, patient_national_id, job_description, "
                                      "policy_number, notes FROM consultation_results")).one()
    for value, secret in zip(row, ["R74", "helped", CHILD_FNR, "Carpenter", "POL-123", "Rest and fluids."]):
        assert secret not in value and value.startswith("k1:")


@pytest.mark.parametrize("fields, error_field", [
    ({"icpc2_code": "ZZ99"}, "icpc2_code"),
    ({"icpc2_code": ""}, "icpc2_code"),
    ({"outcome": "cured_forever"}, "outcome"),
    ({"patient_national_id": "12345678901"}, "patient_national_id"),
    ({"patient_national_id": "abc"}, "patient_national_id"),
    ({"notes": "x" * 6000}, "notes"),
])
def test_bad_report_fields_are_refused_next_to_the_field(app, completed, fields, error_field):
    doctor, cid = completed
    response = file(doctor, cid, **fields)
    assert response.status_code == 422 and f'id="{error_field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsultationResult)) == 0


def test_report_only_after_finish_and_only_once(app, sandbox, staff_client):
    doctor = staff_client("doctor")
    cid = make_consultation(app)
    doctor.post(f"/consultations/{cid}/pick", data={"csrf_token": doctor.csrf}, headers=PANEL)
    assert file(doctor, cid).status_code == 409
    doctor.post(f"/consultations/{cid}/start", data={"csrf_token": doctor.csrf}, headers=PANEL)
    doctor.post(f"/consultations/{cid}/finish", data={"csrf_token": doctor.csrf}, headers=PANEL)
    assert file(doctor, cid).status_code == 200
    assert file(doctor, cid).status_code == 409


def test_admin_reads_it_secretary_does_not_and_every_read_is_audited(app, completed, staff_client):
    doctor, cid = completed
    file(doctor, cid)
    admin, secretary = staff_client("admin"), staff_client("secretary")
    assert "Rest and fluids." in admin.get(f"/consultations/{cid}").get_data(as_text=True)
    assert "Rest and fluids." not in secretary.get(f"/consultations/{cid}").get_data(as_text=True)
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "consultation_result.read")).all()
        assert {e.actor_type for e in reads} == {"staff"} and len(reads) == 2  # the doctor's page and the admin's


def test_reporting_job_reads_every_report_audited_as_itself(app, completed):
    doctor, cid = completed
    file(doctor, cid)
    with app.app_context():
        rows = results.read_reports_for_reporting()
        assert rows[0]["icpc2_code"] == "R74" and rows[0]["outcome_label"] == "Helped"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.actor_id == "reporting-job"))
        assert event.action == "consultation_result.read" and event.actor_type == "system"


def test_policy_lets_only_author_and_admin_read(app, completed):
    from types import SimpleNamespace

    from portal.security import policy

    doctor, cid = completed
    file(doctor, cid)
    with app.app_context():
        result = db.session.scalar(select(ConsultationResult))
        author = SimpleNamespace(is_authenticated=True, role="doctor", id=result.author_id)
        other = SimpleNamespace(is_authenticated=True, role="doctor", id=result.author_id + 1000)
        assert policy.can(author, "consultation_result.read", result)
        assert not policy.can(other, "consultation_result.read", result)
        admin = SimpleNamespace(is_authenticated=True, role="admin", id=0)
        assert policy.can(admin, "consultation_result.read", result)
        for role in ("secretary", "reporting"):
            assert not policy.can(SimpleNamespace(is_authenticated=True, role=role, id=result.author_id),
                                  "consultation_result.read", result)


def test_icpc2_codes_are_normalised_and_unknown_ones_rejected():
    from portal.consultations import icpc2

    assert icpc2.normalise("r74") == "R74" and icpc2.normalise("R74 Upper respiratory") == "R74"
    assert icpc2.normalise("Q99") is None and icpc2.normalise("") is None
    assert ("N89", "Migraine") in icpc2.search("migr")


def test_report_service_refuses_a_consultation_in_progress(app, app_ctx, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    services.pick_consultation(load(cid), doctor_id=doctor)
    services.start_consultation(load(cid), doctor_id=doctor)
    with pytest.raises(services.NotAllowedNow):
        results.file_report(load(cid), results.ReportIn("R74", "helped"), author_id=doctor)


def test_the_whole_icpc2_classification_is_shipped():
    from portal.consultations import icpc2

    codes = icpc2.codes()
    assert len(codes) > 600
    assert all(icpc2.CODE_PATTERN.match(code) and title for code, title in codes.items())
    lines = [line.split("\t")[0] for line in (icpc2._DATA.read_text().splitlines())
             if line.strip() and not line.startswith("#")]
    assert len(lines) == len(set(lines)), "a code is listed twice"
    assert {code[0] for code in codes} == set("ABDFHKLNPRSTUWXYZ")
    # symptom, process and diagnosis rubrics, not just everyday ones
    assert codes["D02"] == "Abdominal pain epigastric" and codes["Y86"] == "Hydrocele"
    assert codes["K50"].startswith("Medication/prescription") and codes["Z29"] == "Social problem NOS"
    assert "N02" not in codes  # tension headache is N95 in ICPC-2


def test_icpc2_search_puts_a_typed_code_first_and_matches_every_word():
    from portal.consultations import icpc2

    assert icpc2.search("r74")[0] == ("R74", "Upper respiratory infection acute")
    assert icpc2.search("R74 Upper respiratory")[0][0] == "R74"
    assert [c for c, _ in icpc2.search("fracture femur")] == ["L75"]
    assert icpc2.search("no such words at all") == []


def test_report_with_an_unknown_or_retired_code_is_refused(app, app_ctx):
    from portal.consultations import icpc2, results

    for code in ("N02", "A12", "R00", "Q74", "R7", "LKRFE01"):
        assert icpc2.normalise(code) is None
        errors = results.validate_report(results.ReportIn(icpc2_code=code, outcome="helped"))
        assert "icpc2_code" in errors
    assert results.validate_report(results.ReportIn(icpc2_code="L75 Fracture: femur", outcome="helped")) == {}
