"""membership write order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 00:27:12.597913
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this revision keep NULL: workers read only writes made after they started.
    with op.batch_alter_table('topic_memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('write_seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_topic_memberships_write_seq', ['write_seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('topic_memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_topic_memberships_write_seq')
        batch_op.drop_column('write_seq')
