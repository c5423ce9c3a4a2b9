"""corpus document frequencies of the hashed TF-IDF terms

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty: the clustering counts the stored articles into it the first time it needs it.
    op.create_table('term_frequencies',
    sa.Column('term', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('documents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_term_frequencies'))
    )


def downgrade() -> None:
    op.drop_table('term_frequencies')
