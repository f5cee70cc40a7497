"""The scripts' texts are translated: every text a script shows comes from `t("key")`
(static/js/i18n.js), every key it uses is in portal/i18n/js_messages.py and every key there is
used, and no string in the scripts is still French."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal.i18n.js_messages import MESSAGES

SCRIPTS = Path(__file__).resolve().parents[2] / "static" / "js"

# A French text: an accented letter, or a common French word standing alone (not part of an
# identifier such as "tile-la", nor of a path such as "/admettre").
ACCENTED = re.compile(r"[À-ÖØ-öø-ÿœŒ]")
FRENCH_WORDS = re.compile(
    r"(?<![\w/-])(le|la|les|de|des|du|un|une|et|ou|en|au|aux|vous|votre|vos|est|pas|ne|pour|avec"
    r"|dans|sur|seul|micro|erreur|connexion|admettre|refuser|retirer|baisser)(?![\w/-])",
    re.IGNORECASE,
)
# After these, a "/" starts a regular expression rather than a division.
REGEX_AFTER_CHARS = set("(,=:[!&|?{};+-*%<>~^")
REGEX_AFTER_WORDS = {"return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await"}
TRANSLATION_CALL = re.compile(r"(?<![\w.$#])(?<!function )t\(\s*")  # not its definition


@dataclass
class Literal:
    start: int  # offset of the opening quote in the source
    text: str  # a template literal's text parts, its ${…} replaced by "{}"
    dynamic: bool  # a template literal with ${…}


def scan(source: str) -> tuple[str, dict[int, Literal]]:
    """The source with comments and the insides of string literals blanked out (offsets kept),
    and its string literals by offset. Enough JavaScript for these scripts: strings, template
    literals (nested), comments and regular expression literals."""
    code = list(source)
    literals: dict[int, Literal] = {}
    braces: list[str] = []  # "{" for a block or object, "${" for a template substitution
    templates: list[Literal] = []  # the template literals whose ${…} we are in
    previous = ""  # the last significant character of code
    word = ""  # the last identifier or keyword
    i = 0

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if code[k] != "\n":
                code[k] = " "

    def read_template(i: int, literal: Literal) -> int:
        # From inside a template literal's text to its end or its next "${".
        start = i
        while i < len(source):
            c = source[i]
            if c == "\\":
                i += 2
                continue
            if c == "`":
                literal.text += source[start:i]
                blank(start, i)
                return i + 1
            if source.startswith("${", i):
                literal.text += source[start:i] + "{}"
                literal.dynamic = True
                blank(start, i)
                braces.append("${")
                templates.append(literal)
                return i + 2
            i += 1
        raise ValueError("unterminated template literal")

    while i < len(source):
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = len(source) if end < 0 else end
            blank(i, end)
            i = end
        elif source.startswith("/*", i):
            end = source.index("*/", i) + 2
            blank(i, end)
            i = end
        elif c in "'\"":
            end = i + 1
            while source[end] != c:
                end += 2 if source[end] == "\\" else 1
            literals[i] = Literal(i, source[i + 1 : end], dynamic=False)
            blank(i + 1, end)
            i, previous, word = end + 1, '"', ""
        elif c == "`":
            literal = Literal(i, "", dynamic=False)
            literals[i] = literal
            i, previous, word = read_template(i + 1, literal), '"', ""
        elif c == "/" and (
            previous in REGEX_AFTER_CHARS or previous == "" or word in REGEX_AFTER_WORDS
        ):
            end, in_class = i + 1, False
            while in_class or source[end] != "/":
                if source[end] == "\\":
                    end += 1
                elif source[end] == "[":
                    in_class = True
                elif source[end] == "]":
                    in_class = False
                end += 1
            i, previous, word = end + 1, "/", ""
        elif c == "{":
            braces.append("{")
            i, previous, word = i + 1, c, ""
        elif c == "}" and braces and braces[-1] == "${":
            braces.pop()
            i, previous, word = read_template(i + 1, templates.pop()), '"', ""
        else:
            if c == "}" and braces:
                braces.pop()
            if c.isalnum() or c in "_$#":
                glued = i > 0 and (source[i - 1].isalnum() or source[i - 1] in "_$#")
                word = word + c if glued else c
                previous = c
            elif not c.isspace():
                previous, word = c, ""
            i += 1
    return "".join(code), literals


def is_french(text: str) -> bool:
    return bool(ACCENTED.search(text) or FRENCH_WORDS.search(text))


def french_literals(source: str) -> list[str]:
    """The string literals of a script that still hold French."""
    _, literals = scan(source)
    return [literal.text for literal in literals.values() if is_french(literal.text)]


def translation_keys(source: str) -> tuple[set[str], list[str]]:
    """The keys a script passes to t(), and the calls whose key is not a plain string (which
    this test could not check)."""
    code, literals = scan(source)
    keys, unreadable = set(), []
    for call in TRANSLATION_CALL.finditer(code):
        literal = literals.get(call.end())
        if literal is None or literal.dynamic:
            unreadable.append(source[call.start() : source.find(")", call.end()) + 1])
        else:
            keys.add(literal.text)
    return keys, unreadable


def scripts() -> list[Path]:
    return sorted(SCRIPTS.rglob("*.js"))


def script_id(path: Path) -> str:
    return str(path.relative_to(SCRIPTS))


@pytest.mark.parametrize("path", scripts(), ids=script_id)
def test_script_has_no_french_string(path):
    assert french_literals(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", scripts(), ids=script_id)
def test_script_uses_only_known_keys(path):
    keys, unreadable = translation_keys(path.read_text(encoding="utf-8"))
    assert unreadable == [], "t() takes its key as a plain string literal"
    assert sorted(keys - MESSAGES.keys()) == []


def test_every_message_is_used_by_a_script():
    used = set()
    for path in scripts():
        used |= translation_keys(path.read_text(encoding="utf-8"))[0]
    assert sorted(MESSAGES.keys() - used) == []


def test_scanner_sees_strings_not_comments_nor_regular_expressions():
    source = (
        "// Le commentaire\n"
        "const a = text.replace(/\\{(\\w+)\\}/g, 'x'); /* pas ici */\n"
        'say(t("room.joined"), `Écran de ${name} et ${t("tiles.keep")}`);\n'
        'const r = a / 2; say(t(key), "ok");\n'
    )
    assert french_literals(source) == ["Écran de {} et {}"]
    keys, unreadable = translation_keys(source)
    assert keys == {"room.joined", "tiles.keep"}
    assert unreadable == ["t(key)"]
