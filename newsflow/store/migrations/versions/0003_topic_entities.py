"""topic entities

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 22:08:28.635926
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default, so a store with topic rows upgrades: existing topics get no entities until
    # the next re-clustering summarises them again.
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entities', sa.JSON(), server_default='[]', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_column('entities')
