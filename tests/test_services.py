"""The private servers the fixtures start are real and answer."""

import sqlalchemy


def test_private_redis_answers(redis_client):
    redis_client.set("k", "v")
    assert redis_client.get("k") == "v"


def test_private_postgres_answers(postgres_database):
    engine = sqlalchemy.create_engine(postgres_database)
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("select 1 + 1")).scalar() == 2
    engine.dispose()
