"""check-in and travel claims: check-in links, check-ins, travel claims; patients' address and contacts;
travel pay per location.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('emergency_contact', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_of_kin', sa.Text(), nullable=True))
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('travel_pay_enabled', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('checkin_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('appointment_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_checkin_links_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_links')),
    sa.UniqueConstraint('patient_id', 'appointment_date', 'kind', name='uq_checkin_links_patient_day_kind'),
    sa.UniqueConstraint('token_hash', name=op.f('uq_checkin_links_token_hash'))
    )
    with op.batch_alter_table('checkin_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_links_patient_id'), ['patient_id'], unique=False)

    op.create_table('check_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('contact_ok', sa.Boolean(), nullable=False),
    sa.Column('emergency_contact_ok', sa.Boolean(), nullable=False),
    sa.Column('next_of_kin_ok', sa.Boolean(), nullable=False),
    sa.Column('needs_front_desk', sa.Boolean(), nullable=False),
    sa.Column('front_desk_done_at', sa.DateTime(), nullable=True),
    sa.Column('travel_answers', sa.JSON(), nullable=False),
    sa.Column('travel_outcome', sa.String(length=20), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_check_ins_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_check_ins_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_ins')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_check_ins_appointment_id'))
    )
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_ins_needs_front_desk'), ['needs_front_desk'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_ins_patient_id'), ['patient_id'], unique=False)

    op.create_table('travel_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('appointment_date', sa.Date(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('attempt_started_at', sa.DateTime(), nullable=True),
    sa.Column('claim_number', sa.String(length=64), nullable=True),
    sa.Column('claim_status', sa.String(length=40), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_travel_claims_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_travel_claims_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_claims')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_travel_claims_idempotency_key')),
    sa.UniqueConstraint('patient_id', 'appointment_date', name='uq_travel_claims_patient_day')
    )
    with op.batch_alter_table('travel_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_claims_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index('ix_travel_claims_status_next', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('travel_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_travel_claims_status_next')
        batch_op.drop_index(batch_op.f('ix_travel_claims_appointment_id'))
    op.drop_table('travel_claims')
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_ins_patient_id'))
        batch_op.drop_index(batch_op.f('ix_check_ins_needs_front_desk'))
    op.drop_table('check_ins')
    with op.batch_alter_table('checkin_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_links_patient_id'))
    op.drop_table('checkin_links')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('travel_pay_enabled')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('next_of_kin')
        batch_op.drop_column('emergency_contact')
        batch_op.drop_column('home_address')
