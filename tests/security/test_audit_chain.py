"""The audit log is append-only and hash-chained; audit-verify finds edits and deletions."""

import threading

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.security import audit
from portal.security.audit_chain import GENESIS, AuditLogIsAppendOnly, verify
from portal.security.models import AuditEvent


def _write_events(n: int) -> None:
    for i in range(n):
        audit.record("test.event", number=i)
        db.session.commit()


def _verify_cli(app):
    return app.test_cli_runner().invoke(args=["audit-verify"])


def test_events_are_chained_in_order_each_linking_to_the_one_before(app, app_ctx):
    _write_events(3)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert verify(db.session).ok


def test_the_chain_head_follows_the_last_event_inserted_and_never_goes_back(app, app_ctx):
    _write_events(2)
    audit.commit_with([audit.pending("test.read", number=3)])
    head = db.session.execute(text("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")).one()
    last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (head.last_seq, head.last_hash) == (3, last.hash) and last.seq == 3
    # A row inserted with a lower seq than the head's does not move the head back.
    db.session.execute(text("INSERT INTO audit_events (at, actor_type, action, details, seq, prev_hash, hash) "
                            "VALUES (CURRENT_TIMESTAMP, 'system', 'test.lower', '{}', 0, :p, :h)"),
                       {"p": GENESIS, "h": "e" * 64})
    assert db.session.execute(text("SELECT last_seq FROM audit_chain_head WHERE id = 1")).scalar() == 3
    db.session.rollback()


def test_several_events_in_one_transaction_chain_too(app, app_ctx):
    audit.record("test.a")
    audit.record("test.b")
    db.session.commit()
    audit.record("test.c")
    db.session.commit()
    result = verify(db.session)
    assert result.ok and result.checked == 3


def test_audit_verify_passes_on_an_untouched_log(app):
    with app.app_context():
        _write_events(5)
    result = _verify_cli(app)
    assert result.exit_code == 0
    assert "5 events checked" in result.output


def test_audit_verify_passes_on_an_empty_log(app):
    result = _verify_cli(app)
    assert result.exit_code == 0


def test_audit_verify_detects_an_edited_event(app):
    with app.app_context():
        _write_events(4)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET actor_id = 'someone else' WHERE seq = 2"))
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert "seq 2" in result.output and "changed" in result.output


def test_audit_verify_detects_a_deleted_event_in_the_middle(app):
    with app.app_context():
        _write_events(4)
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert "missing" in result.output


def test_audit_verify_detects_the_last_event_deleted(app):
    with app.app_context():
        _write_events(3)
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert "head" in result.output


def test_audit_verify_detects_a_rewritten_chain_tail_whose_hashes_no_longer_match(app):
    with app.app_context():
        _write_events(3)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET hash = :h WHERE seq = 3"), {"h": "f" * 64})
    assert _verify_cli(app).exit_code == 1


def test_the_orm_refuses_to_change_an_audit_event(app, app_ctx):
    _write_events(1)
    event = db.session.scalars(select(AuditEvent)).one()
    event.action = "test.rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()


def test_the_orm_refuses_to_delete_an_audit_event(app, app_ctx):
    _write_events(1)
    event = db.session.scalars(select(AuditEvent)).one()
    db.session.delete(event)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()


def _run_together(app, writers) -> list[Exception]:
    """Run each writer in its own thread with its own app context; the exceptions they raised."""
    errors = []

    def run(write):
        try:
            with app.app_context():
                write()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(write,)) for write in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_writers_keep_one_unbroken_chain(app):
    def writer():
        for i in range(10):
            audit.record("test.concurrent", number=i)
            db.session.commit()

    assert not _run_together(app, [writer] * 4)
    with app.app_context():
        result = verify(db.session)
        assert result.ok, result.problems
        assert result.checked == 40


def test_audit_verify_detects_an_event_inserted_behind_the_chains_back(app):
    with app.app_context():
        _write_events(2)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_events (at, actor_type, action, details) "
                              "VALUES (CURRENT_TIMESTAMP, 'system', 'test.forged', '{}')"))
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert "outside the chain" in result.output


def test_events_older_than_the_chain_are_reported_but_do_not_fail_verification(app):
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_events (at, actor_type, action, details) "
                              "VALUES (CURRENT_TIMESTAMP, 'system', 'test.legacy', '{}')"))
        _write_events(2)
    result = _verify_cli(app)
    assert result.exit_code == 0
    assert "1 event(s) predate the chain" in result.output


def test_audited_reads_and_actions_from_concurrent_writers_share_one_unbroken_chain(app):
    """record_read stores its event without the ORM's flush; it must chain exactly like record does."""

    def reader():
        for i in range(10):
            audit.record_read("test.read", patient_id=None, actor=("staff", "7"), number=i)

    def actor():
        for i in range(10):
            audit.record("test.action", number=i)
            db.session.commit()

    assert not _run_together(app, [reader, actor, reader, actor])
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "test.read")).all()
        assert len(reads) == 20 and {(e.actor_type, e.actor_id) for e in reads} == {("staff", "7")}
        assert all(e.at is not None and e.details["number"] in range(10) for e in reads)
    result = _verify_cli(app)
    assert result.exit_code == 0 and "40 events checked" in result.output, result.output
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor_id = '8' WHERE action = 'test.read' AND seq = "
                          "(SELECT max(seq) FROM audit_events WHERE action = 'test.read')"))
    assert _verify_cli(app).exit_code != 0
