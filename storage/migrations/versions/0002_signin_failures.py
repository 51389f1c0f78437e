"""signin_failures: failed sign-ins, for the sign-in rate limit

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signin_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('surface', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signin_failures', schema=None) as batch_op:
        batch_op.create_index('ix_signin_failures_key', ['surface', 'account', 'address', 'at'], unique=False)
        batch_op.create_index('ix_signin_failures_address', ['address', 'at'], unique=False)
        batch_op.create_index('ix_signin_failures_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signin_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_signin_failures_at')
        batch_op.drop_index('ix_signin_failures_address')
        batch_op.drop_index('ix_signin_failures_key')
    op.drop_table('signin_failures')
