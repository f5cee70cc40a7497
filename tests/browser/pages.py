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
