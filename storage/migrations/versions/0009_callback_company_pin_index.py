"""callback requests: an index on (company_id, pin), so drawing a new request's PIN (which no
open request of the company may use) is a look-up, not a scan of the company's open requests

Revision ID: 0009
Revises: 0008
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_callback_company_pin', 'callback_requests', ['company_id', 'pin'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callback_company_pin', table_name='callback_requests')
