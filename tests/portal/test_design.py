"""The pages wear the State design system (DSFR), served by the portal itself: installed by the
set-up command from npm (static/package.json), never committed, never fetched from elsewhere.
docs/design.md."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"
DSFR_DIST = STATIC / "node_modules" / "@gouvfr" / "dsfr" / "dist"
DSFR_CSS_PATH = "/static/node_modules/@gouvfr/dsfr/dist/dsfr.min.css"


def test_pages_load_the_dsfr_from_the_portal_anonymous(client):
    for url in ("/", "/connexion", "/confidentialite", "/page-inconnue"):
        page = client.get(url).get_data(as_text=True)
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert stylesheets[:2] == [DSFR_CSS_PATH, "/static/css/app.css"], (url, stylesheets)
        assert re.search(r'<header class="fr-header[ "]', page), url
        assert re.search(r'<footer class="fr-footer[ "]', page), url


def test_the_dsfr_stylesheet_is_served_with_everything_it_names_anonymous(client):
    response = client.get(DSFR_CSS_PATH)
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    response.close()
    named = {
        match.strip("'\"").split("?")[0].split("#")[0]
        for match in re.findall(r"url\(([^)]+)\)", css)
        if not match.strip("'\"").startswith("data:")
    }
    assert any(name.endswith(".woff2") for name in named), "the Marianne font is self-hosted"
    missing = sorted(name for name in named if not (DSFR_DIST / name).resolve().is_file())
    assert not missing, f"named by dsfr.min.css but not installed: {missing[:10]}"
    assert not [name for name in named if re.match(r"(https?:)?//", name)], "no remote asset"
