"""slots get a UUID (the identifier other systems book them by) and an index on start; appointments keep
what a booking system sent and every version they had.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:00:00

The backfill is one UPDATE in the database, not a loop in Python (its time over a million slots is
not measured yet): PostgreSQL has gen_random_uuid(); SQLite builds a version-4 UUID from randomblob()
per row, in the 32-hex-digit form SQLAlchemy's Uuid type keeps there.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# 12 + '4' + 3 + one of 8/9/a/b + 15 hex digits: a random RFC 4122 version-4 UUID without dashes.
SQLITE_UUID4 = ("lower(hex(randomblob(6)) || '4' || substr(hex(randomblob(2)), 2) || "
                "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(8)), 2))")


def upgrade():
    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uuid', sa.Uuid(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE slots SET uuid = gen_random_uuid()")
    else:
        op.execute(f"UPDATE slots SET uuid = {SQLITE_UUID4}")
    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.alter_column('uuid', existing_type=sa.Uuid(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_slots_uuid'), ['uuid'])
        batch_op.create_index('ix_slots_start', ['start'], unique=False)

    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booked_details', sa.Text(), nullable=True))

    op.create_table('appointment_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_versions_appointment_id_appointments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_versions')),
    sa.UniqueConstraint('appointment_id', 'version', name='uq_appointment_versions_version')
    )
    # The versions appointments already had: their first (booked at creation) and, when cancelled, the second.
    op.execute("INSERT INTO appointment_versions (appointment_id, version, status, recorded_at) "
               "SELECT id, 1, 'booked', created_at FROM appointments")
    op.execute("INSERT INTO appointment_versions (appointment_id, version, status, recorded_at) "
               "SELECT id, version, status, COALESCE(cancelled_at, created_at) FROM appointments WHERE version > 1")


def downgrade():
    op.drop_table('appointment_versions')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_column('booked_details')
    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.drop_index('ix_slots_start')
        batch_op.drop_constraint(batch_op.f('uq_slots_uuid'), type_='unique')
        batch_op.drop_column('uuid')
