"""staff accounts a clinic runs itself: last sign-in, session epoch, invitations and reset links, two-factor.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('invited_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.create_table('staff_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_tokens_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_tokens_token_hash'))
    )
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_tokens_user_id'), ['user_id'], unique=False)
    op.create_table('staff_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_recovery_codes_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_recovery_codes'))
    )
    with op.batch_alter_table('staff_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_recovery_codes_user_id'))
    op.drop_table('staff_recovery_codes')
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_tokens_user_id'))
    op.drop_table('staff_tokens')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        for column in ('totp_last_step', 'totp_enabled_at', 'totp_secret', 'password_changed_at', 'invited_at',
                       'session_epoch', 'last_login_at'):
            batch_op.drop_column(column)
