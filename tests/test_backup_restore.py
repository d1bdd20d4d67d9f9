"""Backup and restore as docs/deploy.md describes it: the database is dumped with `pg_dump`, the data keys
are kept apart (a secret store), and a fresh host restores the dump into an empty database and, given the
keys, finds the patient by national id and opens the sealed consultation result. Without the keys the
dump is useless: that is the point of keeping them apart.

PostgreSQL only (CI's PostgreSQL pass); it makes a database of its own next to the suite's.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from portal.consultations import results, services as consultations
from portal.consultations.models import Consultation
from portal.extensions import db
from tests.conftest import PATIENT_FNR, make_consultation, make_patient, make_staff

READ_BACK = """
import json, sys
from sqlalchemy import select
from portal import create_app
from portal.consultations.models import ConsultationResult
from portal.extensions import db
from portal.patients.services import find_patient_by_national_id
from portal.security.crypto import DecryptionError

app = create_app()
with app.app_context():
    patient = find_patient_by_national_id(sys.argv[1])
    try:
        result = db.session.scalar(select(ConsultationResult))
        sealed = {"icpc2_code": result.icpc2_code, "national_id": result.patient_national_id, "notes": result.notes}
    except DecryptionError:
        sealed = "does not open"
    print(json.dumps({"patient": patient and [patient.last_name, patient.national_id], "result": sealed}))
"""


def _libpq(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def restore_database():
    suite = os.environ.get("DATABASE_URL", "")
    if not suite.startswith("postgresql"):
        pytest.skip("pg_dump and pg_restore need PostgreSQL (CI's PostgreSQL pass)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.fail("PostgreSQL's client tools (pg_dump, pg_restore) are missing")
    url = make_url(suite)
    restored = url.set(database=f"{url.database}_restored")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{restored.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{restored.database}"'))
    yield url, restored
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{restored.database}" WITH (FORCE)'))
    admin.dispose()


def _file_a_report(app, sandbox) -> None:
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app, make_patient(app))
    with app.app_context():
        for step in (consultations.pick_consultation, consultations.start_consultation,
                     consultations.finish_consultation):
            step(db.session.get(Consultation, cid, populate_existing=True), doctor_id=doctor)
        results.file_report(db.session.get(Consultation, cid), results.ReportIn(
            icpc2_code="R74", outcome="helped", patient_national_id=PATIENT_FNR, notes="Rest and fluids."),
            author_id=doctor)
        db.session.remove()


def _read_back(app, restored, instance, **keys) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_KEYS", "BLIND_INDEX_KEY")}
    env.update(PORTAL_ENV="development", INSTANCE_PATH=str(instance), REDIS_URL=app.config["REDIS_URL"],
               DATABASE_URL=restored.render_as_string(hide_password=False), **keys)
    done = subprocess.run([sys.executable, "-c", READ_BACK, PATIENT_FNR], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_dump_restored_with_the_keys_reads_sealed_results_and_national_ids(app, sandbox, restore_database,
                                                                                tmp_path):
    suite, restored = restore_database
    _file_a_report(app, sandbox)
    # The backup: the dump, and the keys from the secret store, kept apart.
    dump = tmp_path / "portal.dump"
    subprocess.run(["pg_dump", "--format=custom", "--compress=0", "--file", str(dump), "--dbname", _libpq(suite)],
                   check=True, timeout=120)
    keys = {"DATA_KEYS": app.config["DATA_KEYS"], "BLIND_INDEX_KEY": app.config["BLIND_INDEX_KEY"]}
    raw = dump.read_bytes()
    assert b"consultation_results" in raw  # uncompressed: what is not sealed would show
    assert PATIENT_FNR.encode() not in raw and b"Rest and fluids" not in raw

    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", _libpq(restored), str(dump)],
                   check=True, timeout=120)
    engine = create_engine(restored)
    with engine.connect() as connection:
        assert connection.execute(select(text("count(*)")).select_from(text("consultation_results"))).scalar() == 1
    engine.dispose()

    # A fresh host (an empty instance folder, so nothing generated before) given the keys reads everything.
    with_keys = _read_back(app, restored, tmp_path / "fresh-host", **keys)
    assert with_keys == {"patient": ["Danser", PATIENT_FNR],
                         "result": {"icpc2_code": "R74", "national_id": PATIENT_FNR, "notes": "Rest and fluids."}}
    # Without them (the host makes keys of its own) nobody is found and nothing opens.
    without = _read_back(app, restored, tmp_path / "keyless-host")
    assert without == {"patient": None, "result": "does not open"}
