"""Data-key rotation: add a new key first in the ring, then re-seal every encrypted column.

1. `add_key` puts a fresh key first in DATA_KEYS. For installs whose keys live in
   instance/secrets.json the file is rewritten under the secrets lock, and every process
   picks the new ring up on its next seal or open (crypto.key_ring watches the file). For keys
   configured in the environment the operator sets the new DATA_KEYS everywhere and restarts;
   `rotate-keys` prints the value and stops until the first key in the environment is new.
2. `reseal_all` walks every table with EncryptedText columns in id order, in batches, each in
   its own short transaction, and re-seals values still under another key. A row is only
   rewritten if its ciphertext is unchanged since it was read (a concurrent writer already
   used the new key). Old keys stay in the ring, so the app keeps reading every row meanwhile.
   Progress (last id per table) is kept in Redis under the target key id, so a crashed run
   resumes where it stopped; a final sweep from the start proves nothing is left under an old
   key before the run reports done.
"""

import base64
import fcntl
import json
import os
import secrets as pysecrets
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db, redis_client
from portal.security.crypto import EncryptedText, KeyRing, key_ring

PROGRESS_KEY = "keyrotation:{kid}"


@dataclass(frozen=True)
class EncryptedTable:
    name: str
    columns: dict[str, str]  # column name -> purpose


def encrypted_tables() -> list[EncryptedTable]:
    found = []
    for table in db.metadata.sorted_tables:
        cols = {c.name: c.type.purpose for c in table.columns if isinstance(c.type, EncryptedText)}
        if cols:
            assert "id" in table.c, f"{table.name}: rotation walks tables by an integer id"
            found.append(EncryptedTable(table.name, cols))
    return found


def _new_key_id(ring: KeyRing) -> str:
    n = len(ring.keys) + 1
    while f"k{n}" in ring.keys:
        n += 1
    return f"k{n}"


def new_spec(current_spec: str, kid: str | None = None) -> tuple[str, str]:
    ring = KeyRing.parse(current_spec)
    kid = kid or _new_key_id(ring)
    if kid in ring.keys:
        raise ValueError(f"a data key with id {kid!r} exists already")
    key = base64.urlsafe_b64encode(pysecrets.token_bytes(32)).decode()
    return f"{kid}:{key}," + current_spec, kid


def keys_from_file() -> bool:
    return not os.environ.get("DATA_KEYS")


def add_key_to_secrets_file(instance_path: str, kid: str | None = None) -> str:
    """Prepend a new key to DATA_KEYS in instance/secrets.json; returns the new key's id."""
    folder = Path(instance_path)
    path = folder / "secrets.json"
    with open(folder / ".secrets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = json.loads(path.read_text())
        spec, kid = new_spec(stored["DATA_KEYS"], kid)
        tmp = folder / f".secrets.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**stored, "DATA_KEYS": spec}, f)
        os.replace(tmp, path)
    current_app.config["DATA_KEYS"] = spec
    return kid


@dataclass
class RotationReport:
    target: str
    resealed: dict[str, int] = field(default_factory=dict)
    left_under_old_keys: int = 0
    finished: bool = False


def _pending(table: EncryptedTable, kid: str):
    t = sa.table(table.name, sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in table.columns))
    prefix = f"{kid}:%"
    stale = sa.or_(*(sa.and_(t.c[c].is_not(None), sa.not_(t.c[c].like(prefix))) for c in table.columns))
    return t, stale


def _reseal_batch(table: EncryptedTable, ring: KeyRing, after_id: int, batch: int) -> tuple[int | None, int]:
    """Re-seal the next batch of stale rows after `after_id`; returns (last id seen or None, rows rewritten)."""
    t, stale = _pending(table, ring.current_id)
    rows = db.session.execute(sa.select(t).where(stale, t.c.id > after_id).order_by(t.c.id).limit(batch)).all()
    db.session.commit()  # end the read transaction before writing (SQLite)
    if not rows:
        return None, 0
    rewritten = 0
    for row in rows:
        values, old = {}, {}
        for col, purpose in table.columns.items():
            token = getattr(row, col)
            if token is None or token.startswith(ring.current_id + ":"):
                continue
            values[col] = ring.seal(ring.open(token, purpose), purpose)
            old[col] = token
        if values:
            unchanged = sa.and_(*(t.c[c] == v for c, v in old.items()))
            result = db.session.execute(t.update().where(t.c.id == row.id, unchanged).values(**values))
            rewritten += result.rowcount
    db.session.commit()
    return rows[-1].id, rewritten


def count_under_old_keys(kid: str | None = None) -> int:
    kid = kid or key_ring().current_id
    total = 0
    for table in encrypted_tables():
        t, stale = _pending(table, kid)
        total += db.session.scalar(sa.select(sa.func.count()).select_from(t).where(stale)) or 0
    db.session.commit()
    return total


def reseal_all(batch: int = 500, max_batches: int | None = None, on_batch=None) -> RotationReport:
    """Re-seal everything under the ring's first key. `max_batches` stops early (as a crash would)."""
    ring = key_ring()
    progress = PROGRESS_KEY.format(kid=ring.current_id)
    r = redis_client()
    report = RotationReport(target=ring.current_id)
    done_batches = 0
    for table in encrypted_tables():
        last = int(r.hget(progress, table.name) or 0)
        while True:
            if max_batches is not None and done_batches >= max_batches:
                return report
            last_seen, rewritten = _reseal_batch(table, ring, last, batch)
            if last_seen is None:
                break
            last = last_seen
            r.hset(progress, table.name, last)
            report.resealed[table.name] = report.resealed.get(table.name, 0) + rewritten
            done_batches += 1
            if on_batch:
                on_batch(table.name, last, rewritten)
    # Final sweep from the start: rows written by a process that still sealed with an old key.
    for _ in range(3):
        if count_under_old_keys(ring.current_id) == 0:
            break
        for table in encrypted_tables():
            last = 0
            while (step := _reseal_batch(table, ring, last, batch))[0] is not None:
                last = step[0]
                report.resealed[table.name] = report.resealed.get(table.name, 0) + step[1]
    report.left_under_old_keys = count_under_old_keys(ring.current_id)
    report.finished = report.left_under_old_keys == 0
    if report.finished:
        r.delete(progress)
    return report
