"""languages: the language staff and partner users chose for themselves at /language (patients' language came
with 0017). NULL: nobody has said; their browser's Accept-Language decides.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 03:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('staff_users', 'partner_users'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    for table in ('partner_users', 'staff_users'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
