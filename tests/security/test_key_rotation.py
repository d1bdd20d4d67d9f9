"""rotate-keys: a new data key first, every encrypted value re-sealed, nothing lost, resumable."""

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from portal.consultations.models import ChatMessage, ChatRoom, ConsultationResult
from portal.extensions import db, redis_client
from portal.patients.models import Patient
from portal.security import key_rotation
from portal.security.crypto import key_ring
from tests.conftest import PATIENT_FNR, make_consultation, make_staff


@pytest.fixture(autouse=True)
def restore_data_keys(app):
    """Rotation rewrites the install's secrets file: put it back, so tests that run later seal under k1 as usual."""
    path = Path(app.config["INSTANCE_PATH"]) / "secrets.json"
    saved_file, saved_keys = path.read_text(), app.config["DATA_KEYS"]
    yield
    path.write_text(saved_file)
    app.config["DATA_KEYS"] = saved_keys


def seed(app, n: int = 7) -> dict:
    """n consultations, each with a chat room, two chat messages and a report."""
    doctor_id = make_staff(app, "doctor")
    expected = {}
    for i in range(n):
        cid = make_consultation(app)
        with app.app_context():
            room = ChatRoom(consultation_id=cid, external_id=f"room-{cid}", shared_secret_id="s",
                            shared_secret=f"secret {i}")
            db.session.add(room)
            db.session.flush()
            db.session.add_all([ChatMessage(chat_room_id=room.id, sender_role="patient", sender="Patient/1",
                                            body=f"message {i} a"),
                                ChatMessage(chat_room_id=room.id, sender_role="doctor", sender=f"Consultation/{cid}",
                                            body=f"message {i} b")])
            db.session.add(ConsultationResult(consultation_id=cid, author_id=doctor_id, icpc2_code="R74",
                                              outcome="helped", patient_national_id=PATIENT_FNR,
                                              job_description=f"job {i}", policy_number=f"POL-{i}", notes=f"notes {i}"))
            db.session.commit()
            expected[cid] = (f"secret {i}", {f"message {i} a", f"message {i} b"}, f"job {i}", f"POL-{i}")
    return expected


def plaintexts(app) -> dict:
    with app.app_context():
        db.session.expire_all()
        out = {}
        for room in db.session.scalars(select(ChatRoom)):
            messages = set(db.session.scalars(select(ChatMessage.body).where(ChatMessage.chat_room_id == room.id)))
            result = db.session.scalar(select(ConsultationResult)
                                       .where(ConsultationResult.consultation_id == room.consultation_id))
            out[room.consultation_id] = (room.shared_secret, messages, result.job_description, result.policy_number)
        assert {p.national_id for p in db.session.scalars(select(Patient))} == {PATIENT_FNR}
        return out


def key_ids_in_use(app) -> set[str]:
    with app.app_context():
        ids = set()
        for table in key_rotation.encrypted_tables():
            for col in table.columns:
                rows = db.session.execute(sa.text(f"SELECT {col} FROM {table.name} WHERE {col} IS NOT NULL")).scalars()
                ids |= {token.partition(":")[0] for token in rows}
        db.session.commit()
        return ids


def test_rotate_keys_reseals_everything_under_the_new_key_and_loses_nothing(app):
    expected = seed(app)
    with app.app_context():
        old = key_ring().current_id
    result = app.test_cli_runner().invoke(args=["rotate-keys", "--batch", "3"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        new = key_ring().current_id
        secrets_file = json.loads((Path(app.config["INSTANCE_PATH"]) / "secrets.json").read_text())
    assert new != old
    assert secrets_file["DATA_KEYS"].startswith(f"{new}:") and f"{old}:" in secrets_file["DATA_KEYS"]
    assert key_ids_in_use(app) == {new}
    assert plaintexts(app) == expected


def test_a_crashed_rotation_resumes_where_it_stopped(app):
    expected = seed(app, 5)
    with app.app_context():
        key_rotation.add_key_to_secrets_file(app.config["INSTANCE_PATH"])
        target = key_ring().current_id
        partial = key_rotation.reseal_all(batch=2, max_batches=3)  # "crash" after three batches
        assert not partial.finished
        assert redis_client().exists(key_rotation.PROGRESS_KEY.format(kid=target))
        assert key_rotation.count_under_old_keys() > 0
    # Meanwhile the app reads rows under both keys.
    assert plaintexts(app) == expected
    assert len(key_ids_in_use(app)) == 2
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert "resuming" in result.output and result.exit_code == 0, result.output
    assert key_ids_in_use(app) == {target}
    assert plaintexts(app) == expected
    with app.app_context():
        assert not redis_client().exists(key_rotation.PROGRESS_KEY.format(kid=target))


def test_rows_written_under_the_old_key_during_a_rotation_are_caught_by_the_final_sweep(app):
    expected = seed(app, 3)
    with app.app_context():
        old_spec = app.config["DATA_KEYS"]
        key_rotation.add_key_to_secrets_file(app.config["INSTANCE_PATH"])
        target = key_ring().current_id
        # A process that has not seen the new key yet writes a row with the old one.
        from portal.security.crypto import KeyRing
        stale = KeyRing.parse(old_spec).seal("late message", "chat_message.body")
        room_id = db.session.scalar(select(ChatRoom.id).limit(1))
        db.session.execute(sa.text("INSERT INTO chat_messages (chat_room_id, sender_role, sender, body, created_at) "
                                   "VALUES (:r, 'patient', 'Patient/1', :b, CURRENT_TIMESTAMP)"),
                           {"r": room_id, "b": stale})
        db.session.commit()
        report = key_rotation.reseal_all(batch=100)
        assert report.finished
    assert key_ids_in_use(app) == {target}
    assert any("late message" in messages for _, messages, _, _ in plaintexts(app).values())
    assert len(expected) == 3


def test_rotate_keys_with_keys_in_the_environment_prints_what_to_set_and_changes_nothing(app, monkeypatch):
    seed(app, 1)
    monkeypatch.setenv("DATA_KEYS", app.config["DATA_KEYS"])
    before = key_ids_in_use(app)
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0
    assert "DATA_KEYS=" in result.output and "--resume" in result.output
    assert key_ids_in_use(app) == before


def test_the_rotation_is_audited(app):
    seed(app, 1)
    app.test_cli_runner().invoke(args=["rotate-keys"])
    from portal.security.models import AuditEvent
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("keys.%"))
                                          .order_by(AuditEvent.seq)))
    assert actions == ["keys.rotation_started", "keys.rotation_finished"]


def test_other_processes_open_values_under_a_new_key_at_once_and_seal_with_it_within_a_second(app):
    """Processes look at the secrets file at most once a second, but never fail on a key added meanwhile."""
    from portal.security.crypto import KeyRing, decrypt, encrypt

    path = Path(app.config["INSTANCE_PATH"]) / "secrets.json"
    with app.app_context():
        old = key_ring().current_id
        encrypt("looked at the file just now", "chat_message.body")
        # Another process rotates: the file changes behind this one's back (its config is not touched).
        stored = json.loads(path.read_text())
        spec, new = key_rotation.new_spec(stored["DATA_KEYS"])
        path.write_text(json.dumps({**stored, "DATA_KEYS": spec}))
        sealed_elsewhere = KeyRing.parse(spec).seal("written by the other process", "chat_message.body")
        assert decrypt(sealed_elsewhere, "chat_message.body") == "written by the other process"
        assert key_ring().current_id == new
    with app.app_context():
        stored = json.loads(path.read_text())
        spec, newer = key_rotation.new_spec(stored["DATA_KEYS"])
        path.write_text(json.dumps({**stored, "DATA_KEYS": spec}))
        time.sleep(1.1)
        assert encrypt("after a second", "chat_message.body").startswith(f"{newer}:")
        assert old in key_ring().keys
