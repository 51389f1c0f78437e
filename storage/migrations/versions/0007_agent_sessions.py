"""agent remote control (seed 004): agent sessions, call hold/disposition/bridge, supervisors

Revision ID: 0007
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_sessions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('dialing_since', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supervisor', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('num_sales', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('disposed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('bridged_call_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_calls_bridged_call_id', 'calls', ['bridged_call_id'], ['id'])
        batch_op.create_index('ix_calls_agent_disposed', ['agent_id', 'disposed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_agent_disposed')
        batch_op.drop_constraint('fk_calls_bridged_call_id', type_='foreignkey')
        batch_op.drop_column('bridged_call_id')
        batch_op.drop_column('disposed_at')
        batch_op.drop_column('num_sales')
        batch_op.drop_column('held')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('supervisor')
    op.drop_table('agent_sessions')
