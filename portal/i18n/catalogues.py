"""The translation catalogues under portal/translations: extracted from the code and templates,
kept in step, compiled, and checked.

`flask translations update` after changing texts: it extracts every string marked for
translation, adds the new ones to both catalogues (French filled with the id itself, English
left empty for a translator), marks the ones gone as obsolete, and compiles the `.mo` files the
portal reads. `flask translations check` lists what is missing; the test suite runs the same
check. The compiled `.mo` files are committed (the release is built from the repository alone).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask.cli import AppGroup

PORTAL_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PORTAL_DIR.parent
TRANSLATIONS_DIR = PORTAL_DIR / "translations"
DOMAIN = "messages"
SOURCE_LANGUAGE = "fr"
TARGET_LANGUAGES = ("fr", "en")

KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "lazy_ngettext": (1, 2)}
# Multi-line {% trans %} blocks are extracted as the portal renders them: whitespace collapsed
# (the "ext.i18n.trimmed" policy set in portal/i18n/__init__.py).
JINJA_OPTIONS = {"trimmed": "true"}
SOURCES = (
    ("portal", [("**.py", "python")], {}),
    ("templates", [("**.html", "jinja2")], {"**.html": JINJA_OPTIONS}),
)


def po_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract_template() -> Catalog:
    """Every translatable string in the portal's code and templates, with where it is used."""
    template = Catalog(locale=SOURCE_LANGUAGE, project="webconf", fuzzy=False)
    for folder, method_map, options_map in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            REPO_ROOT / folder, method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
        ):
            template.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


HEADER = """\
# {language} catalogue of the webconference portal: `flask translations update` keeps it in step
# with the code (portal/i18n/catalogues.py); translate the empty entries, run it again.
#"""


def read_catalogue(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        catalogue = Catalog(locale=language, domain=DOMAIN, project="webconf", fuzzy=False)
    else:
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=language, domain=DOMAIN)
    catalogue.header_comment = HEADER.format(language={"fr": "French", "en": "English"}[language])
    catalogue.msgid_bugs_address = ""
    catalogue.last_translator = ""
    catalogue.language_team = ""
    return catalogue


def compiled(catalogue: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    return buffer.getvalue()


def _is_translated(message) -> bool:
    if message.pluralizable:
        return all(message.string)
    return bool(message.string)


@dataclass(frozen=True)
class Problem:
    language: str
    message: str
    what: str

    def __str__(self) -> str:
        return f"[{self.language}] {self.what}: {self.message!r}"


def check_catalogues(template: Catalog | None = None) -> list[Problem]:
    """What keeps the catalogues from covering the code: strings missing or untranslated in a
    catalogue, translations marked fuzzy, a compiled file out of date."""
    template = template or extract_template()
    problems: list[Problem] = []
    for language in TARGET_LANGUAGES:
        catalogue = read_catalogue(language)
        for message in template:
            if not message.id:
                continue
            entry = catalogue.get(message.id, context=message.context)
            if entry is None:
                problems.append(Problem(language, _text(message.id), "missing"))
            elif not _is_translated(entry):
                problems.append(Problem(language, _text(message.id), "not translated"))
            elif entry.fuzzy:
                problems.append(Problem(language, _text(message.id), "fuzzy"))
        mo_path = po_path(language).with_suffix(".mo")
        if not mo_path.exists() or mo_path.read_bytes() != compiled(catalogue):
            problems.append(Problem(language, str(mo_path), "compiled file out of date"))
    return problems


def _text(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def update_catalogues(template: Catalog | None = None) -> dict[str, int]:
    """Bring both catalogues in step with the code; return, per language, strings left to
    translate."""
    template = template or extract_template()
    left: dict[str, int] = {}
    for language in TARGET_LANGUAGES:
        catalogue = read_catalogue(language)
        # update() adopts the template's message objects: each language gets its own copy.
        catalogue.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalogue.obsolete.clear()  # gone from the code: history lives in git
        if language == SOURCE_LANGUAGE:
            for message in catalogue:
                if message.id and not _is_translated(message):
                    message.string = message.id
        left[language] = sum(1 for m in catalogue if m.id and not _is_translated(m))
        write(catalogue, language)
    return left


def write(catalogue: Catalog, language: str) -> None:
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalogue, width=100, sort_output=False, include_lineno=False)
    path.with_suffix(".mo").write_bytes(compiled(read_catalogue(language)))


def fill(language: str, translations: Iterable[tuple[str, str | list[str]]]) -> int:
    """Set translations (id → text, or id → [singular, plural]) in a catalogue; return how many
    ids it did not contain."""
    catalogue = read_catalogue(language)
    unknown = 0
    for message_id, text in translations:
        entry = catalogue.get(message_id)
        if entry is None:
            unknown += 1
            continue
        entry.string = tuple(text) if isinstance(text, list) else text  # plural forms
        entry.flags.discard("fuzzy")
    write(catalogue, language)
    return unknown


translations_cli = AppGroup("translations", help="Keep the French and English catalogues in step.")


@translations_cli.command("update")
def update_command() -> None:
    """Extract the texts, update both catalogues, compile them."""
    for language, count in update_catalogues().items():
        click.echo(f"{language}: {count} string(s) left to translate in {po_path(language)}")


@translations_cli.command("check")
def check_command() -> None:
    """List strings missing from a catalogue; exit 1 if there are any."""
    problems = check_catalogues()
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise SystemExit(1)
    click.echo("Both catalogues cover every string.")


@translations_cli.command("import")
@click.argument("language", type=click.Choice(TARGET_LANGUAGES))
@click.argument("source", type=click.File("r", encoding="utf-8"))
def import_command(language: str, source) -> None:
    """Set translations from a JSON object {French text: translation}."""
    import json

    unknown = fill(language, json.load(source).items())
    click.echo(f"{language}: translations set; {unknown} text(s) not in the catalogue ignored")
