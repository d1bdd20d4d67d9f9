"""audit chain: the head is moved by the INSERT of a chained event itself (a trigger), not by an UPDATE the
portal sends after it: an audited read is one statement shorter.

The trigger moves the head only forward (to a higher seq), so events inserted in one statement in any row
order leave it at the last one. Events without a seq (the log before the chain existed) do not move it.
On SQLite a batch migration that recreates audit_events drops its triggers: such a migration must create
this one again (`create_head_trigger` here shows how).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 19:30:00

"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_MOVE = ("UPDATE audit_chain_head SET last_seq = NEW.seq, last_hash = NEW.hash "
         "WHERE id = 1 AND last_seq < NEW.seq")


def create_head_trigger():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE FUNCTION audit_events_move_chain_head() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN {_MOVE}; RETURN NULL; END $$")
        op.execute("CREATE TRIGGER audit_events_move_chain_head AFTER INSERT ON audit_events FOR EACH ROW "
                   "WHEN (NEW.seq IS NOT NULL) EXECUTE FUNCTION audit_events_move_chain_head()")
    else:
        op.execute("CREATE TRIGGER audit_events_move_chain_head AFTER INSERT ON audit_events "
                   f"WHEN NEW.seq IS NOT NULL BEGIN {_MOVE}; END")


def upgrade():
    create_head_trigger()


def downgrade():
    op.execute("DROP TRIGGER audit_events_move_chain_head" +
               (" ON audit_events" if op.get_bind().dialect.name == 'postgresql' else ""))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION audit_events_move_chain_head()")
