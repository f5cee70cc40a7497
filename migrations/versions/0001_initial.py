"""Users, their identities at identity providers, and rooms.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.Integer(),
            nullable=False,
            comment="Internal identifier; never shown outside the database",
        ),
        sa.Column(
            "public_id",
            sa.String(length=32),
            nullable=False,
            comment="Unguessable identifier used in sessions and URLs",
        ),
        sa.Column(
            "email",
            sa.String(length=320),
            nullable=False,
            comment="E-mail address given by the identity provider at the last sign-in",
        ),
        sa.Column(
            "display_name",
            sa.String(length=200),
            nullable=False,
            comment="Full name given by the identity provider at the last sign-in",
        ),
        sa.Column(
            "is_active",
            sa.Boolean(),
            server_default=sa.true(),
            nullable=False,
            comment="False when an administrator deactivated the account: sign-in is refused",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
            comment="When the account was created (first sign-in), UTC",
        ),
        sa.Column(
            "last_login_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When the user last signed in successfully, UTC; null if never",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("public_id", name=op.f("uq_users_public_id")),
    )
    op.create_index(op.f("ix_users_email"), "users", ["email"], unique=False)

    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False, comment="Internal identifier"),
        sa.Column(
            "user_id", sa.Integer(), nullable=False, comment="The user this identity signs in as"
        ),
        sa.Column(
            "issuer",
            sa.String(length=255),
            nullable=False,
            comment="OIDC issuer URL of the identity provider (iss)",
        ),
        sa.Column(
            "subject",
            sa.String(length=255),
            nullable=False,
            comment="Stable identifier of the person at that provider (sub)",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
            comment="When this identity was first used, UTC",
        ),
        sa.Column(
            "last_login_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When this identity was last used to sign in, UTC",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_identities_issuer_subject")),
    )
    op.create_index(op.f("ix_identities_user_id"), "identities", ["user_id"], unique=False)

    op.create_table(
        "rooms",
        sa.Column("id", sa.Integer(), nullable=False, comment="Internal identifier"),
        sa.Column(
            "slug",
            sa.String(length=32),
            nullable=False,
            comment="Unguessable public identifier used in the room's URL and by the SFU",
        ),
        sa.Column(
            "name", sa.String(length=120), nullable=False, comment="Name chosen by the owner"
        ),
        sa.Column(
            "owner_id",
            sa.Integer(),
            nullable=False,
            comment="The user who created the room; moderator when they join",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
            comment="When the room was created, UTC",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_rooms_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
        sa.UniqueConstraint("slug", name=op.f("uq_rooms_slug")),
    )
    op.create_index(op.f("ix_rooms_owner_id"), "rooms", ["owner_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_rooms_owner_id"), table_name="rooms")
    op.drop_table("rooms")
    op.drop_index(op.f("ix_identities_user_id"), table_name="identities")
    op.drop_table("identities")
    op.drop_index(op.f("ix_users_email"), table_name="users")
    op.drop_table("users")
