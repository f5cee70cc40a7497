"""Models and migrations: the schema the migrations build is the models' schema, both ways."""

import re

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from portal.auth.models import Identity
from portal.extensions import db
from portal.rooms.models import SLUG_ALPHABET, SLUG_GROUPS, Room, new_room_slug
from portal.users.models import Role, User

# Every table the models define: the migrations must create and drop all of them.
TABLES = set(db.metadata.tables)


def test_migrations_match_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_upgrade_then_downgrade_to_base(app):
    with app.app_context():
        assert TABLES <= set(sa.inspect(db.engine).get_table_names())
        flask_migrate.downgrade(revision="base")
        db.engine.dispose()
        assert not TABLES & set(sa.inspect(db.engine).get_table_names())
        flask_migrate.upgrade()
        db.engine.dispose()
        assert TABLES <= set(sa.inspect(db.engine).get_table_names())


def test_tenants_migration_puts_existing_rows_in_a_tenant(app):
    """Rows from before tenants existed land in one tenant, and survive a downgrade."""
    with app.app_context():
        flask_migrate.downgrade(revision="0001_initial")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (public_id, email, display_name, is_active, created_at) "
                    "VALUES ('u1', 'a@exemple.gouv.fr', 'A', :yes, CURRENT_TIMESTAMP)"
                ),
                {"yes": True},
            )
            user_id = connection.execute(sa.text("SELECT id FROM users")).scalar()
            connection.execute(
                sa.text(
                    "INSERT INTO rooms (slug, name, owner_id, created_at) "
                    "VALUES ('abcd-efgh-jkmn', 'R', :owner, CURRENT_TIMESTAMP)"
                ),
                {"owner": user_id},
            )
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            tenant_id = connection.execute(
                sa.text("SELECT id FROM tenants WHERE slug = 'ministere'")
            ).scalar()
            assert tenant_id is not None
            assert connection.execute(sa.text("SELECT tenant_id, role FROM users")).one() == (
                tenant_id,
                "agent",
            )
            assert connection.execute(sa.text("SELECT tenant_id, capacity FROM rooms")).one() == (
                tenant_id,
                20,
            )
        flask_migrate.downgrade(revision="0001_initial")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT email FROM users")).scalar() == (
                "a@exemple.gouv.fr"
            )
        flask_migrate.upgrade()
        db.engine.dispose()


def test_every_column_has_a_comment():
    for table in db.metadata.tables.values():
        for column in table.columns:
            assert column.comment, f"{table.name}.{column.name} has no comment"


def test_constraints_follow_the_naming_convention(app):
    with app.app_context():
        inspector = sa.inspect(db.engine)
        assert inspector.get_unique_constraints("identities")[0]["name"] == (
            "uq_identities_issuer_subject"
        )
        foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("rooms")}
        assert foreign_keys == {"fk_rooms_owner_id_users", "fk_rooms_tenant_id_tenants"}


def test_user_defaults(app, create_tenant):
    tenant = create_tenant()
    with app.app_context():
        user = User(email="a@exemple.gouv.fr", display_name="A", tenant_id=tenant.id)
        db.session.add(user)
        db.session.commit()
        assert user.role is Role.AGENT
        assert user.is_active is True
        assert user.created_at is not None
        assert user.last_login_at is None
        assert len(user.public_id) >= 22
        assert user.get_id() == user.public_id


def test_identity_is_unique_per_issuer_and_subject(app, create_user):
    user = create_user(issuer="https://idp.a", subject="42")
    other = create_user(issuer=None)
    with app.app_context():
        db.session.add(Identity(user_id=other.id, issuer="https://idp.b", subject="42"))
        db.session.commit()
        db.session.add(Identity(user_id=other.id, issuer="https://idp.a", subject="42"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(User, user.id).identities[0].subject == "42"


def test_room_slug_is_readable_and_unguessable():
    slugs = {new_room_slug() for _ in range(2000)}
    assert len(slugs) == 2000
    for slug in slugs:
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", slug)
        assert not set(slug) & set("lo01")
    bits = sum(SLUG_GROUPS) * (len(SLUG_ALPHABET).bit_length() - 1)
    assert len(set(SLUG_ALPHABET)) == len(SLUG_ALPHABET) == 32
    assert bits >= 60


def test_room_role_of_owner_and_others(app, create_user, create_room):
    owner, guest = create_user(), create_user()
    room = create_room(owner)
    with app.app_context():
        room = db.session.get(Room, room.id)
        assert room.role_of(db.session.get(User, owner.id)) == "moderator"
        assert room.role_of(db.session.get(User, guest.id)) == "participant"


def test_deleting_a_user_deletes_their_identities_and_rooms(app, create_user, create_room):
    owner = create_user()
    create_room(owner)
    with app.app_context():
        db.session.execute(sa.delete(User).where(User.id == owner.id))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            assert db.session.scalar(sa.select(sa.func.count(Room.id))) == 0
            assert db.session.scalar(sa.select(sa.func.count(Identity.id))) == 0
