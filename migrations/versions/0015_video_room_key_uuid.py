"""video rooms: one UUID per room for the `d` claim that the doctor's and the patient's keys share.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 23:55:00

"""
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('video_rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_uuid', sa.String(length=36), nullable=True))
    rooms = sa.table('video_rooms', sa.column('id', sa.Integer), sa.column('key_uuid', sa.String))
    connection = op.get_bind()
    for (room_id,) in connection.execute(sa.select(rooms.c.id)).all():
        connection.execute(rooms.update().where(rooms.c.id == room_id).values(key_uuid=str(uuid.uuid4())))
    with op.batch_alter_table('video_rooms', schema=None) as batch_op:
        batch_op.alter_column('key_uuid', existing_type=sa.String(length=36), nullable=False)


def downgrade():
    with op.batch_alter_table('video_rooms', schema=None) as batch_op:
        batch_op.drop_column('key_uuid')
