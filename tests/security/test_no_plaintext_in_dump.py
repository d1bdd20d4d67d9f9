"""A dump of the database holds no result field, chat message or national id in plaintext."""

import os
import shutil
import sqlite3
import subprocess

import pytest
from sqlalchemy import make_url

from portal.consultations.models import ChatMessage, ChatRoom, ConsultationResult
from portal.extensions import db
from tests.conftest import PATIENT_FNR, make_consultation, make_staff

SECRETS = {
    "icpc2_code": "R74 Upper respiratory infection acute",
    "outcome": "helped-Uq3",
    "job_description": "Zeppelin welder 4711",
    "policy_number": "POL-77Q1-ZZ",
    "notes": "Rest, fluids and a note Kx9",
    "chat": "my throat hurts since Tuesday Wq2",
}


def _seed(app):
    doctor_id = make_staff(app, "doctor")
    cid = make_consultation(app)
    with app.app_context():
        room = ChatRoom(consultation_id=cid, external_id="room-x", shared_secret_id="s", shared_secret="sh-secret-Pp0")
        db.session.add(room)
        db.session.flush()
        db.session.add(ChatMessage(chat_room_id=room.id, sender_role="patient", sender="Patient/1",
                                   body=SECRETS["chat"]))
        db.session.add(ConsultationResult(consultation_id=cid, author_id=doctor_id, patient_national_id=PATIENT_FNR,
                                          **{k: v for k, v in SECRETS.items() if k != "chat"}))
        db.session.commit()


def _dump(app) -> str:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as conn:
            return "\n".join(conn.iterdump())
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    if not os.path.exists(pg_dump):
        pytest.skip("pg_dump is not installed")
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run([pg_dump, "--data-only", "--no-owner", plain], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.skip(f"pg_dump failed: {done.stderr.strip()[:200]}")
    return done.stdout


def test_database_dump_has_no_result_field_chat_message_or_national_id_in_plaintext(app):
    _seed(app)
    dump = _dump(app)
    assert "consultation_results" in dump and "chat_messages" in dump  # the dump did include the tables
    for name, value in {**SECRETS, "national id": PATIENT_FNR}.items():
        assert value not in dump, f"{name} appears in plaintext in the database dump"


def test_the_dump_check_would_see_a_plaintext_value(app):
    """The check above is not vacuous: a value stored in the clear shows up in the dump."""
    _seed(app)
    with app.app_context():
        db.session.execute(db.text("UPDATE chat_messages SET sender = 'Visible-Marker-123'"))
        db.session.commit()
    assert "Visible-Marker-123" in _dump(app)
