"""Room settings (access, schedule, co-moderators) and invitations.

Revision ID: 0003_meetings
Revises: 0002_tenants
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_meetings"
down_revision = "0002_tenants"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access",
                sa.Enum("agents", "invited", name="room_access", native_enum=False, length=32),
                server_default="agents",
                nullable=False,
                comment="'agents': signed-in agents enter directly; 'invited': invitation "
                "holders only",
            )
        )
        batch_op.add_column(
            sa.Column(
                "schedule_starts_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="Scheduled start, UTC; entry opens 5 min before; null: no schedule",
            )
        )
        batch_op.add_column(
            sa.Column(
                "schedule_ends_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="Scheduled end, UTC (at most 6 h after the start); entry closes 5 min "
                "after",
            )
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_rooms_schedule_complete"),
            "(schedule_starts_at IS NULL) = (schedule_ends_at IS NULL)",
        )

    op.create_table(
        "room_moderators",
        sa.Column("room_id", sa.Integer(), nullable=False, comment="The room"),
        sa.Column(
            "user_id",
            sa.Integer(),
            nullable=False,
            comment="An agent of the room's ministry who moderates it with the owner",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_moderators_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_room_moderators_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_moderators")),
    )
    with op.batch_alter_table("room_moderators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_moderators_user_id"), ["user_id"], unique=False)

    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False, comment="Internal identifier"),
        sa.Column(
            "public_id",
            sa.String(length=32),
            nullable=False,
            comment="Identifier used on the management page (revocation); not the link's secret",
        ),
        sa.Column(
            "room_id",
            sa.Integer(),
            nullable=False,
            comment="The room the invitation lets people into",
        ),
        sa.Column(
            "token_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 (hex) of the link's token; the token itself is never stored",
        ),
        sa.Column(
            "role",
            sa.Enum(
                "moderator", "participant", name="invitation_role", native_enum=False, length=32
            ),
            server_default="participant",
            nullable=False,
            comment="Role given to whoever comes with it: participant or moderator",
        ),
        sa.Column(
            "label",
            sa.String(length=120),
            nullable=True,
            comment="Note for the moderators: whom the link was sent to",
        ),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="After this moment (UTC) the link no longer works; null: no expiry",
        ),
        sa.Column(
            "max_uses",
            sa.Integer(),
            nullable=True,
            comment="How many times the link may be used; null: no limit",
        ),
        sa.Column(
            "uses",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="How many times the link has been used (a name given, or an agent let in)",
        ),
        sa.Column(
            "revoked_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a moderator revoked the link, UTC; null while it is valid",
        ),
        sa.Column(
            "created_by_id",
            sa.Integer(),
            nullable=True,
            comment="The moderator who created it; null for a guest moderator or a deleted account",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
            comment="When the invitation was created, UTC",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_invitations_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("public_id", name=op.f("uq_invitations_public_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitations_created_by_id"), ["created_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invitations_room_id"), ["room_id"], unique=False)


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_room_id"))
        batch_op.drop_index(batch_op.f("ix_invitations_created_by_id"))
    op.drop_table("invitations")

    with op.batch_alter_table("room_moderators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_moderators_user_id"))
    op.drop_table("room_moderators")

    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_rooms_schedule_complete"), type_="check")
        batch_op.drop_column("schedule_ends_at")
        batch_op.drop_column("schedule_starts_at")
        batch_op.drop_column("access")
