"""Recall integrations: per-company recording path prefix, text-file separator and signing
secret; an idempotency key and the owning company on every outbox entry

Revision ID: 0004
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_path_prefix', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('text_files_separator', sa.String(length=8), nullable=False,
                                      server_default='comma'))
        batch_op.add_column(sa.Column('hmac_secret', sa.Text(), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('company_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_outbox_idempotency_key', ['idempotency_key'])
        batch_op.create_foreign_key('fk_outbox_company_id', 'companies', ['company_id'], ['id'])
    # Entries written before this revision get a key too: receivers may rely on one.
    op.execute("UPDATE outbox SET idempotency_key = 'outbox-' || id WHERE idempotency_key IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_company_id', type_='foreignkey')
        batch_op.drop_constraint('uq_outbox_idempotency_key', type_='unique')
        batch_op.drop_column('company_id')
        batch_op.drop_column('idempotency_key')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('hmac_secret')
        batch_op.drop_column('text_files_separator')
        batch_op.drop_column('recording_path_prefix')
