"""languages: the language a patient is spoken to in (set from the referral or the partner, changed by the
patient's switch), and the language staff and partner users chose for themselves. NULL: nobody has said.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 02:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('patients', 'staff_users', 'partner_users'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    for table in ('partner_users', 'staff_users', 'patients'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
