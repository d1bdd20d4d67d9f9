"""referrals: a duplicate points at the referral it repeats; the secretary's choice per sent detail.

What the referral system sent (name, phone, e-mail) is in the sealed payload already; these columns
only record, per field, whether the patient record was updated from it or kept.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 23:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sent_name_choice', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('sent_phone_choice', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('sent_email_choice', sa.String(length=10), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_referrals_duplicate_of_id_referrals'), 'referrals',
                                    ['duplicate_of_id'], ['id'])


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referrals_duplicate_of_id_referrals'), type_='foreignkey')
        batch_op.drop_column('sent_email_choice')
        batch_op.drop_column('sent_phone_choice')
        batch_op.drop_column('sent_name_choice')
        batch_op.drop_column('duplicate_of_id')
