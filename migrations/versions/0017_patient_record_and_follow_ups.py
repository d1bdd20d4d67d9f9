"""the patient record and follow-ups: a patient's language; follow-up consultations (scheduled until their
day, billed under their first consultation's deal) and appointments booked from a consultation; deal prices
for follow-ups.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))

    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deal_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_consultations_follow_up_of_id'), ['follow_up_of_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_consultations_follow_up_of_id_consultations'), 'consultations',
                                    ['follow_up_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_consultations_deal_id_deals'), 'deals', ['deal_id'], ['id'])

    with op.batch_alter_table('deal_prices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='consultation', nullable=False))
        batch_op.drop_constraint('uq_deal_prices_deal_id', type_='unique')
        batch_op.create_unique_constraint('uq_deal_prices_deal_kind_channel', ['deal_id', 'kind', 'channel'])

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('follow_up_consultation_id', sa.Integer(), nullable=True),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('not_before', sa.Date(), nullable=True),
    sa.Column('with_booking_doctor', sa.Boolean(), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'consultation' AND follow_up_consultation_id IS NOT NULL AND appointment_id IS NULL) OR (kind = 'appointment' AND appointment_id IS NOT NULL AND follow_up_consultation_id IS NULL)", name=op.f('ck_follow_ups_one_thing_made')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_follow_ups_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['booked_by_id'], ['staff_users.id'], name=op.f('fk_follow_ups_booked_by_id_staff_users')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_follow_ups_consultation_id_consultations')),
    sa.ForeignKeyConstraint(['follow_up_consultation_id'], ['consultations.id'], name=op.f('fk_follow_ups_follow_up_consultation_id_consultations')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_follow_ups_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_follow_ups_appointment_id')),
    sa.UniqueConstraint('follow_up_consultation_id', name=op.f('uq_follow_ups_follow_up_consultation_id'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_consultation_id'), ['consultation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_patient_id'), ['patient_id'], unique=False)


def downgrade():
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_patient_id'))
        batch_op.drop_index(batch_op.f('ix_follow_ups_consultation_id'))
    op.drop_table('follow_ups')

    op.execute("DELETE FROM deal_prices WHERE kind <> 'consultation'")
    with op.batch_alter_table('deal_prices', schema=None) as batch_op:
        batch_op.drop_constraint('uq_deal_prices_deal_kind_channel', type_='unique')
        batch_op.create_unique_constraint('uq_deal_prices_deal_id', ['deal_id', 'channel'])
        batch_op.drop_column('kind')

    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consultations_deal_id_deals'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_consultations_follow_up_of_id_consultations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_consultations_follow_up_of_id'))
        batch_op.drop_column('deal_id')
        batch_op.drop_column('follow_up_of_id')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('language')
