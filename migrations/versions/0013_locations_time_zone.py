"""locations (clinics) have an IANA time zone: their day, not UTC's, is "today" for check-in.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='Europe/London',
                                      nullable=False))
    # A clinic that already has a diary takes the zone its diary's opening hours were written in.
    op.execute("UPDATE locations SET time_zone = (SELECT min(schedules.timezone) FROM schedules "
               "WHERE schedules.location_id = locations.id) "
               "WHERE EXISTS (SELECT 1 FROM schedules WHERE schedules.location_id = locations.id)")


def downgrade():
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
