"""partner users' session epoch: a role change or a deactivation (of the user or of their partner) shuts
their older session cookies out, as staff users' epoch does.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('partner_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('partner_users', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
