"""Every state-changing endpoint refuses a request without a valid CSRF token, and changes nothing.

The endpoints come from the authorization matrix, which is itself checked against the
application's URL map: a new POST endpoint is covered here as soon as it is listed there. For
each one, the request is made as an actor the matrix lets through with a token (preferably one
for whom it succeeds), once without a token and once with a token of another session; the
answer must be the CSRF refusal itself (its message or its JSON code), not another 400.
"""

from __future__ import annotations

import pytest

from portal.core.errors import CSRF_MESSAGE
from tests.fixtures.portal import csrf_token
from tests.portal.tenancy import build_world, snapshot
from tests.portal.test_authorization_matrix import ACTORS, MATRIX, SIGN_IN, client_of

STATE_CHANGING = sorted(key for key in MATRIX if key[1] != "GET")


def permitted_actor(case) -> str:
    """An actor for whom the endpoint succeeds with a token, else one not bounced to sign-in."""
    statuses = {actor: case.expect[actor] for actor in ACTORS}
    for actor, status in statuses.items():
        if status != SIGN_IN and 200 <= status < 400:
            return actor
    return next(actor for actor, status in statuses.items() if status != SIGN_IN)


def assert_csrf_refusal(response, where: str) -> None:
    assert response.status_code == 400, f"{where}: {response.status_code}"
    if response.is_json:
        assert response.get_json()["error"] == "csrf", where
    else:
        assert CSRF_MESSAGE in response.get_data(as_text=True), where


def test_there_are_state_changing_endpoints():
    assert len(STATE_CHANGING) >= 20


@pytest.mark.parametrize("key", STATE_CHANGING, ids=lambda key: f"{key[0]}-{key[1]}")
def test_state_changing_endpoint_requires_csrf(app, redis_client, key):
    case = MATRIX[key]
    world = build_world(app)
    actor = permitted_actor(case)
    data = {name: value.format(actor=actor) for name, value in case.data(world).items()}

    client = client_of(app, world, actor)
    before = snapshot(app)
    response = client.post(case.url(world), data=data)
    assert_csrf_refusal(response, f"{key} as {actor} without a token")
    assert snapshot(app) == before, f"{key} as {actor} changed the database without a token"

    # A token taken from another browser's session is not this session's token.
    stranger = app.test_client()
    foreign = csrf_token(stranger.get("/"))
    response = client.post(
        case.url(world),
        data={**data, "csrf_token": foreign},
        headers={"X-CSRFToken": foreign},
    )
    assert_csrf_refusal(response, f"{key} as {actor} with a foreign token")
    assert snapshot(app) == before, f"{key} as {actor} changed the database with a foreign token"
