"""Room pages: home, my rooms, creating a room, pre-join, the room page, unknown rooms."""

import re

from portal.extensions import db
from portal.rooms.models import Room
from tests.fixtures.portal import csrf_token, sign_in


def test_home_shows_sign_in_to_anonymous(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert 'href="/connexion"' in page
    assert 'class="skip-link" href="#contenu"' in page


def test_home_lists_the_owners_rooms(client, create_user, create_room):
    owner = create_user()
    create_room(owner, name="Réunion de service")
    sign_in(client, owner)
    page = client.get("/").get_data(as_text=True)
    assert "Réunion de service" in page


def test_rooms_list_redirects_anonymous_to_sign_in(client):
    response = client.get("/salles")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=/salles")


def test_rooms_list_shows_only_own_rooms(client, create_user, create_room):
    owner, other = create_user(), create_user()
    mine = create_room(owner, name="Ma salle")
    theirs = create_room(other, name="Salle d'un autre")
    sign_in(client, owner)
    page = client.get("/salles").get_data(as_text=True)
    assert "Ma salle" in page and mine.slug in page
    assert "Salle d&#39;un autre" not in page and theirs.slug not in page
    # The link to share, readable and selectable, and the copy button wired by static JS.
    assert f'value="http://localhost/r/{mine.slug}" readonly' in page
    assert f'data-copy-target="room-link-{mine.slug}"' in page
    assert "js/copy-link.js" in page


def test_room_create_by_signed_in_user(app, client, create_user):
    owner = create_user()
    sign_in(client, owner)
    token = csrf_token(client.get("/salles/nouvelle"))
    response = client.post(
        "/salles/nouvelle", data={"name": "  Comité de pilotage ", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/salles"
    with app.app_context():
        room = db.session.scalar(db.select(Room))
        assert room.name == "Comité de pilotage"
        assert room.owner_id == owner.id
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", room.slug)
    assert "Comité de pilotage" in client.get("/salles").get_data(as_text=True)


def test_room_create_without_name_shows_french_error_next_to_field(app, client, create_user):
    sign_in(client, create_user())
    token = csrf_token(client.get("/salles/nouvelle"))
    response = client.post("/salles/nouvelle", data={"name": "   ", "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<p class="field__error" id="name-error">Indiquez le nom de la salle.</p>' in page
    assert 'aria-describedby="name-hint name-error"' in page
    assert 'aria-invalid="true"' in page
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Room.id))) == 0


def test_room_create_with_too_long_name_is_refused(client, create_user):
    sign_in(client, create_user())
    token = csrf_token(client.get("/salles/nouvelle"))
    response = client.post("/salles/nouvelle", data={"name": "x" * 121, "csrf_token": token})
    assert response.status_code == 400
    assert "Le nom ne peut pas dépasser 120 caractères." in response.get_data(as_text=True)


def test_room_create_without_csrf_token_is_refused(app, client, create_user):
    sign_in(client, create_user())
    response = client.post("/salles/nouvelle", data={"name": "Salle"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Room.id))) == 0


def test_room_create_by_anonymous_redirects_to_sign_in(client):
    response = client.get("/salles/nouvelle")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")


def test_prejoin_unknown_room_is_404_in_french(client, create_user):
    sign_in(client, create_user())
    response = client.get("/r/aaaa-bbbb-cccc")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_prejoin_unknown_room_is_404_for_anonymous_too(client):
    assert client.get("/r/aaaa-bbbb-cccc").status_code == 404
    assert client.get("/r/aaaa-bbbb-cccc/salle").status_code == 404


def test_prejoin_by_anonymous_redirects_to_sign_in(client, create_user, create_room):
    room = create_room(create_user())
    response = client.get(f"/r/{room.slug}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/connexion?next=/r/{room.slug}"


def test_prejoin_prefills_the_users_name(client, create_user, create_room):
    room = create_room(create_user())
    guest = create_user(display_name="Thomas Bernard")
    sign_in(client, guest)
    page = client.get(f"/r/{room.slug}").get_data(as_text=True)
    assert 'value="Thomas Bernard"' in page
    assert '<video id="preview"' in page
    assert 'type="checkbox"' in page and 'name="microphone"' in page and 'name="camera"' in page
    assert '<label class="checkbox__label" for="camera">' in page
    assert "js/prejoin.js" in page


def test_prejoin_stores_choices_and_opens_the_room_page(client, create_user, create_room):
    room = create_room(create_user(), name="Salle <b>test</b>")
    sign_in(client, create_user())
    token = csrf_token(client.get(f"/r/{room.slug}"))
    response = client.post(
        f"/r/{room.slug}",
        data={"display_name": "Camille (DGALN)", "microphone": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/r/{room.slug}/salle"
    page = client.get(f"/r/{room.slug}/salle").get_data(as_text=True)
    assert '<main id="room"' in page
    assert f'data-token-url="/r/{room.slug}/jeton"' in page
    assert f'data-room="{room.slug}"' in page
    assert 'data-room-name="Salle &lt;b&gt;test&lt;/b&gt;"' in page
    assert 'data-display-name="Camille (DGALN)"' in page
    assert 'data-microphone="on"' in page
    assert 'data-camera="off"' in page
    # ICE servers (with TURN credentials) come with each join token, never in cached HTML.
    assert "data-ice-servers" not in page
    assert re.search(r'data-csrf-token="[^"]+"', page)
    assert '<section id="tiles" aria-label="Participants">' in page or 'id="tiles"' in page
    assert re.search(r'<button type="button" id="toggle-microphone"[^>]*aria-pressed="true"', page)
    assert re.search(r'<button type="button" id="toggle-camera"[^>]*aria-pressed="false"', page)
    assert '<button type="button" id="leave"' in page
    assert re.search(r'id="room-status"[^>]*role="status"', page)
    assert '<script type="module" src="/static/js/room.js">' in page


def test_prejoin_without_name_shows_french_error(client, create_user, create_room):
    room = create_room(create_user())
    sign_in(client, create_user())
    token = csrf_token(client.get(f"/r/{room.slug}"))
    response = client.post(f"/r/{room.slug}", data={"display_name": "", "csrf_token": token})
    assert response.status_code == 400
    assert "Indiquez le nom sous lequel vous apparaîtrez." in response.get_data(as_text=True)


def test_prejoin_without_csrf_token_is_refused(client, create_user, create_room):
    room = create_room(create_user())
    sign_in(client, create_user())
    response = client.post(f"/r/{room.slug}", data={"display_name": "Camille"})
    assert response.status_code == 400


def test_room_page_without_prejoin_goes_to_prejoin(client, create_user, create_room):
    room = create_room(create_user())
    sign_in(client, create_user())
    response = client.get(f"/r/{room.slug}/salle")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/r/{room.slug}"


def test_sign_out_requires_csrf_and_clears_session(client, create_user):
    sign_in(client, create_user())
    page = client.get("/salles")
    assert client.post("/deconnexion").status_code == 400
    assert client.get("/salles").status_code == 200
    response = client.post("/deconnexion", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert client.get("/salles").status_code == 302


def test_deactivated_user_loses_session(app, client, create_user):
    from portal.users.models import User

    user = create_user()
    sign_in(client, user)
    assert client.get("/salles").status_code == 200
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert client.get("/salles").status_code == 302
