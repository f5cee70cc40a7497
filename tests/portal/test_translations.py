"""French by default, English on request: which language a page is answered in, the switch on
every page, and catalogues that cover every text the templates and the code show.

The catalogue tests fail when a template shows text that is not marked for translation, when a
marked text is missing (or untranslated) in the French or the English catalogue, or when the
compiled catalogues are older than their sources (`flask translations update` fixes the last).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from portal.i18n.catalogues import check_catalogues, extract_template
from tests.fixtures.portal import csrf_token, sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


def page_language(response) -> str:
    match = HTML_LANG.search(response.get_data(as_text=True))
    assert match, "every page declares its language on <html>"
    return match.group(1)


# --- Which language -------------------------------------------------------------------------


def test_french_by_default_anonymous(client):
    response = client.get("/")
    assert page_language(response) == "fr"
    assert "Se connecter" in response.get_data(as_text=True)


def test_the_browser_preference_is_followed_anonymous(client):
    response = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert page_language(response) == "en"
    assert "Accept-Language" in response.headers["Vary"]


def test_an_unknown_preference_falls_back_to_french_anonymous(client):
    response = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert page_language(response) == "fr"


def test_the_switch_wins_over_the_browser_and_returns_to_the_page_anonymous(client):
    response = client.get("/langue/en?next=/confidentialite")
    assert response.status_code == 302
    assert response.headers["Location"] == "/confidentialite"
    page = client.get("/confidentialite", headers={"Accept-Language": "fr-FR"})
    assert page_language(page) == "en"
    client.get("/langue/fr?next=/")
    assert page_language(client.get("/", headers={"Accept-Language": "en"})) == "fr"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:x"])
def test_the_switch_does_not_redirect_elsewhere_anonymous(client, target):
    response = client.get("/langue/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_an_unknown_language_is_not_found_anonymous(client):
    assert client.get("/langue/de?next=/").status_code == 404
    assert page_language(client.get("/")) == "fr"


def test_the_switch_is_on_every_page_and_names_each_language_in_itself_agent(client, create_user):
    sign_in(client, create_user())
    for url in ("/", "/salles", "/salles/nouvelle", "/confidentialite"):
        page = client.get(url).get_data(as_text=True)
        assert 'lang="en" hreflang="en">English</a>' in page, url
        assert 'lang="fr" hreflang="fr" aria-current="true">Français</a>' in page, url


def test_the_chosen_language_survives_sign_in_agent(client, create_user):
    client.get("/langue/en?next=/")
    sign_in(client, create_user())
    assert page_language(client.get("/salles")) == "en"


def test_scripts_get_their_texts_in_the_page_language_anonymous(client):
    french = client.get("/").get_data(as_text=True)
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    marker = '<script type="application/json" id="textes">'
    assert marker in french and marker in english
    assert (
        french.split(marker)[1].split("</script>")[0]
        != (english.split(marker)[1].split("</script>")[0])
    )


# --- The catalogues cover everything --------------------------------------------------------


def test_both_catalogues_cover_every_marked_text():
    problems = check_catalogues(extract_template())
    assert not problems, "run `flask translations update`, then translate:\n" + "\n".join(
        map(str, problems[:60])
    )


class VisibleText(HTMLParser):
    """Text a person would read or hear in a template, once every Jinja expression, statement,
    comment and {% trans %} block is blanked: what is left was not marked for translation."""

    SPOKEN_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "label"}
    DATA_ONLY = {"script", "style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.DATA_ONLY:
            self._skip += 1
        attributes = dict(attrs)
        shown = set(self.SPOKEN_ATTRIBUTES)
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            shown.add("value")
        for name, value in attrs:
            if name in shown and value and _has_words(value):
                self.found.append(f'{name}="{value}"')

    def handle_endtag(self, tag):
        if tag in self.DATA_ONLY and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and _has_words(data):
            self.found.append(" ".join(data.split()))


TRANS_BLOCK = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.DOTALL)
JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.DOTALL)


def _has_words(text: str) -> bool:
    return re.search(r"[^\W\d_]{2,}", text) is not None


def untranslated_texts(source: str) -> list[str]:
    blanked = JINJA.sub(" ", TRANS_BLOCK.sub(" ", source))
    parser = VisibleText()
    parser.feed(blanked)
    parser.close()
    return parser.found


def test_the_scanner_finds_unmarked_text():
    # The test below is only as good as this scanner: it must see what a person would read.
    found = untranslated_texts(
        '<p>{{ _("Bonjour") }} Salle</p><input type="submit" value="Entrer">'
        '<img alt="Logo" src="x"><span aria-label="{{ _(\'Fermer\') }}">'
        "{% trans %}Ok{% endtrans %}</span>"
        "<script>const x = 'texte';</script>{# commentaire #}{{ name }}"
    )
    assert found == ["Salle", 'value="Entrer"', 'alt="Logo"']


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html"))
)
def test_templates_show_no_text_outside_the_catalogues(template):
    found = untranslated_texts((TEMPLATES / template).read_text(encoding="utf-8"))
    assert not found, f"{template}: wrap in _() or {{% trans %}}: {found}"


def test_lazy_texts_are_escaped_like_any_text(app):
    from flask import render_template_string
    from flask_babel import lazy_gettext

    with app.test_request_context("/"):
        rendered = render_template_string("{{ text }}", text=lazy_gettext("<b>l'agent</b>"))
    assert rendered == "&lt;b&gt;l&#39;agent&lt;/b&gt;"


def test_error_texts_are_escaped_in_pages_and_plain_in_json_anonymous(client):
    page = client.get("/page-qui-n-existe-pas")
    assert page.status_code == 404
    assert "Cette page n&#39;existe pas." in page.get_data(as_text=True)
    token = csrf_token(client.get("/"))
    answer = client.post("/r/salle-qui-n-existe-pas/jeton", headers={"X-CSRFToken": token})
    assert answer.status_code == 404 and answer.is_json
    assert answer.get_json()["message"].startswith("Cette page n'existe pas.")
