"""audit log: who played, downloaded, linked, paused, protected or deleted which recording

Revision ID: 0008
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('user', sa.String(length=200), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('surface', sa.String(length=200), nullable=True),
    sa.Column('binding', sa.String(length=16), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.String(length=1000), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_entries_at', 'audit_entries', ['at'], unique=False)
    op.create_index('ix_audit_entries_reference_at', 'audit_entries', ['reference', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_entries_reference_at', table_name='audit_entries')
    op.drop_index('ix_audit_entries_at', table_name='audit_entries')
    op.drop_table('audit_entries')
