"""travel claims keep the agreement the patient accepted, follow the claim to its decision, and remember
the step adapter's progress in the claims system.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('travel_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agreement_version', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('agreement_language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('agreement_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('agreed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pauses', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('outcome_unknown', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('external_appointment_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('external_claim_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('steps_done', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('next_status_check_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('status_checked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('follow_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_travel_claims_status_check', ['status', 'next_status_check_at'], unique=False)


def downgrade():
    with op.batch_alter_table('travel_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_travel_claims_status_check')
        for column in ('decided_at', 'follow_until', 'status_checked_at', 'next_status_check_at', 'steps_done',
                       'external_claim_id', 'external_appointment_id', 'outcome_unknown', 'pauses', 'agreed_at',
                       'agreement_text', 'agreement_language', 'agreement_version'):
            batch_op.drop_column(column)
