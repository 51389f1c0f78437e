"""callback requests: an index on (company_id, phone_e164, requested_at), so BuzzMeInfo's
look-up of a caller's newest open request is a look-up, not a scan of the company's open
requests

Revision ID: 0010
Revises: 0009
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_callback_company_phone', 'callback_requests', ['company_id', 'phone_e164', 'requested_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_callback_company_phone', table_name='callback_requests')
