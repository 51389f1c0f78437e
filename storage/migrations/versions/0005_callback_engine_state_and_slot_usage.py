"""callback engine state and slot usage

Revision ID: 0005
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('user_call_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('agent_call_id', sa.String(length=128), nullable=True))
        batch_op.create_index('ix_callback_due', ['state', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('callback_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt', sa.Integer(), nullable=True))
    op.create_table('callback_slots',
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('slot_date', sa.Date(), nullable=False),
    sa.Column('timeslot_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['service_queues.id'], ),
    sa.PrimaryKeyConstraint('queue_id', 'slot_date', 'timeslot_id')
    )


def downgrade() -> None:
    op.drop_table('callback_slots')
    with op.batch_alter_table('callback_events', schema=None) as batch_op:
        batch_op.drop_column('attempt')
    with op.batch_alter_table('callback_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_due')
        batch_op.drop_column('agent_call_id')
        batch_op.drop_column('user_call_id')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('attempts')
