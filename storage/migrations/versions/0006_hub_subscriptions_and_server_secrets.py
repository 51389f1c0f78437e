"""SignalR hub subscriptions and shared server secrets (real-time callback events)

Revision ID: 0006
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hub_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['callback_requests.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connection_id', 'request_id')
    )
    with op.batch_alter_table('hub_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hub_subscriptions_request_id'), ['request_id'], unique=False)
    op.create_table('server_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('server_secrets')
    with op.batch_alter_table('hub_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hub_subscriptions_request_id'))
    op.drop_table('hub_subscriptions')
