"""Steps a person takes in the demo's pages, shared by the browser tests."""


def sign_in(page, platform, login, ministry="ecologie"):
    page.goto(f"{platform.url}/connexion")
    page.click(f"#ministere-{ministry}")
    page.fill("#login", login)
    page.fill("#password", platform.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{platform.url}/**")


def enter_room(page, room_url):
    page.goto(room_url)
    page.click("#prejoin-form button[type=submit]")
    page.wait_for_url("**/salle")


def create_room(page, platform, name):
    """Create a room from the portal's form; returns its link (the pre-join page)."""
    page.goto(f"{platform.url}/salles/nouvelle")
    page.fill("#name", name)
    page.click("main form button[type=submit]")
    return page.input_value("input.copy-link__input")


def open_panel(page, name):
    """Open a side panel of the room (participants, chat, lobby) unless it is open already."""
    toggle = page.locator(f"#toggle-{name}")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.wait_for_selector(f"#{name}-panel", state="visible")


def create_invitation(page, room_url):
    """The moderator creates a participant invitation on the room's page; returns its link."""
    page.goto(f"{room_url}/invitations")
    page.get_by_role("button", name="Créer l'invitation").click()
    return page.input_value("#invitation-link")


def wait_in_lobby(page, invitation, name):
    """A guest opens an invitation link, gives their name and lands in the lobby."""
    page.goto(invitation)
    page.fill("#display_name", name)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/attente")


def links_under(page, base_url, prefix):
    """The page's links (header menu and main content) to `base_url + prefix…`, in page order,
    without fragments or duplicates."""
    hrefs = page.eval_on_selector_all(
        "header a[href], main a[href]", "links => links.map(link => link.href.split('#')[0])"
    )
    wanted = base_url + prefix
    return list(dict.fromkeys(href for href in hrefs if href.startswith(wanted)))
