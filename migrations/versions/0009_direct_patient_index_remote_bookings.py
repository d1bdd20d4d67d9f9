"""direct patients are found again by a blind index; bookings made at another service are kept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 10:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direct_identity_index', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_patients_direct_identity_index'), ['direct_identity_index'])
    op.create_table('remote_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('care_request_id', sa.Integer(), nullable=True),
    sa.Column('provider_ods_code', sa.String(length=20), nullable=False),
    sa.Column('service_name', sa.String(length=200), nullable=False),
    sa.Column('remote_appointment_id', sa.String(length=64), nullable=False),
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['booked_by_id'], ['staff_users.id'], name=op.f('fk_remote_bookings_booked_by_id_staff_users')),
    sa.ForeignKeyConstraint(['care_request_id'], ['care_requests.id'], name=op.f('fk_remote_bookings_care_request_id_care_requests')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_remote_bookings_patient_id_patients')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_remote_bookings_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_bookings'))
    )
    with op.batch_alter_table('remote_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_bookings_care_request_id'), ['care_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remote_bookings_referral_id'), ['referral_id'], unique=False)


def downgrade():
    with op.batch_alter_table('remote_bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_bookings_referral_id'))
        batch_op.drop_index(batch_op.f('ix_remote_bookings_care_request_id'))
    op.drop_table('remote_bookings')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_patients_direct_identity_index'), type_='unique')
        batch_op.drop_column('direct_identity_index')
