"""French first, English too: the language of each request, the switch, the catalogues.

Message ids are the French texts themselves: French is the language the product is written in
and the default, so a string that some catalogue lacks still reads correctly in French. The
English catalogue translates every id; the French one repeats it (so a proofreader can reword
the French without touching the code). `flask translations` keeps both in step with the code
and tests/portal/test_translations.py fails when a string is missing from either.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape

from portal.i18n.locale import LANGUAGES, current_language, select_language

__all__ = ["LANGUAGES", "current_language", "init_i18n"]

babel = Babel()


def _escaped_html(self: LazyString) -> Markup:
    return escape(str(self))


# Flask-Babel 4's lazy strings declare themselves safe HTML (`__html__` returns the raw text),
# so Jinja would print a lazy label or message unescaped: an apostrophe unescaped, and markup
# if a text ever carried any. A lazy text is text: escaped like any other string.
LazyString.__html__ = _escaped_html


def init_i18n(app: Flask) -> None:
    from portal.i18n.blueprint import bp
    from portal.i18n.catalogues import translations_cli
    from portal.i18n.js_messages import script_messages

    babel.init_app(app, locale_selector=select_language, default_locale="fr")
    app.register_blueprint(bp)
    # {% trans %} blocks read as one line whatever their layout (catalogues.JINJA_OPTIONS).
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    @app.after_request
    def vary_by_language(response):
        response.vary.update(("Accept-Language", "Cookie"))
        return response

    app.cli.add_command(translations_cli)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES, current_language=current_language, script_messages=script_messages
    )
