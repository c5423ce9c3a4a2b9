"""membership removal tombstones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:12:41.318604
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsflow.store.schema


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Removals made before this revision left no tombstone: workers catch up at their next reload.
    op.create_table('membership_removals',
    sa.Column('article_id', sa.String(length=128), nullable=False),
    sa.Column('write_seq', sa.BigInteger(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('removed_at', newsflow.store.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('article_id', 'write_seq', name=op.f('pk_membership_removals'))
    )
    with op.batch_alter_table('membership_removals', schema=None) as batch_op:
        batch_op.create_index('ix_membership_removals_write_seq', ['write_seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('membership_removals', schema=None) as batch_op:
        batch_op.drop_index('ix_membership_removals_write_seq')

    op.drop_table('membership_removals')
