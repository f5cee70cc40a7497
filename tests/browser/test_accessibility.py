"""Accessibility (RGAA, WCAG 2.1 AA), checked in a real browser on the demo platform.

- axe-core (npm, tests/browser/package.json, installed by .ci/setup) runs in headless Chromium on
  every kind of page — public pages, sign-in, rooms and their settings, invitations, the guest's
  name form and waiting page, pre-join, the room with each panel open, the ministry's and the
  platform's administration, error pages — and must report no violation of the WCAG 2.0/2.1 A
  and AA rules. axe cannot judge everything (meaningful order, sensible labels): the keyboard and
  announcement tests below cover what matters most in the room.
- Every room control can be reached with Tab and used with Enter or Space alone.
- The room announces, politely (aria-live), arrivals, raised hands and guests knocking.

axe's script is evaluated through the DevTools protocol, which the page's Content-Security-Policy
does not apply to: the pages stay exactly as served.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.pages import (
    create_invitation,
    create_room,
    enter_room,
    links_under,
    open_panel,
    sign_in,
    wait_in_lobby,
)

pytestmark = pytest.mark.browser

AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MODERATOR = "camille.martin@ecologie.gouv.fr"  # Écologie's administrator
OTHER_AGENT = "julien.petit@culture.gouv.fr"
PLATFORM_ADMIN = "dominique.lefevre@numerique.gouv.fr"
GUEST_NAME = "Aline Invitée"
TOOLBAR = (
    "toggle-microphone",
    "toggle-camera",
    "toggle-screen",
    "toggle-hand",
    "toggle-chat",
    "toggle-participants",
    "toggle-view",
    "leave",
)


class Audit:
    """Runs axe on pages and keeps every violation, so one run reports all of them."""

    def __init__(self) -> None:
        self.source = AXE.read_text(encoding="utf-8")
        self.violations: list[str] = []
        self.pages: list[str] = []

    def check(self, page, label: str) -> None:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(self.source)
        found = page.evaluate(
            """async (tags) => {
              const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
              return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map((n) => `${n.target} — ${n.failureSummary}`),
              }));
            }""",
            WCAG_AA,
        )
        self.pages.append(label)
        for violation in found:
            nodes = "\n      ".join(violation["nodes"])
            self.violations.append(
                f"{label} ({page.url}): {violation['id']} [{violation['impact']}] "
                f"{violation['help']}\n      {nodes}"
            )

    def visit(self, page, url: str, label: str) -> None:
        response = page.goto(url)
        assert response is not None
        page.wait_for_load_state("networkidle")
        self.check(page, label)


def test_every_page_passes_axe_at_wcag_21_aa(demo_platform, browser_context_factory):
    base = demo_platform.url
    audit = Audit()
    moderator = browser_context_factory(base).new_page()

    try:
        # --- Anonymous
        audit.visit(moderator, f"{base}/", "home, anonymous")
        audit.visit(moderator, f"{base}/confidentialite", "privacy page")
        audit.visit(moderator, f"{base}/connexion", "sign-in page")
        audit.visit(moderator, f"{base}/salles/introuvable-0000", "not found")
        english = browser_context_factory(base).new_page()
        english.set_extra_http_headers({"Accept-Language": "en"})
        audit.visit(english, f"{base}/", "home, in English")

        # --- A ministry administrator: rooms, settings, invitations, administration
        sign_in(moderator, demo_platform, MODERATOR, ministry="ecologie")
        audit.visit(moderator, f"{base}/salles", "my rooms")
        audit.visit(moderator, f"{base}/salles/nouvelle", "room creation")
        room_url = create_room(moderator, demo_platform, "Revue d'accessibilité")
        audit.check(moderator, "room created")
        invitation = create_invitation(moderator, room_url)
        audit.check(moderator, "invitations")
        for url in links_under(moderator, base, room_url.removeprefix(base)):
            audit.visit(moderator, url, "room page " + url.removeprefix(room_url))
        audit.visit(moderator, f"{base}/admin", "administration")
        for url in links_under(moderator, base, "/admin"):
            audit.visit(moderator, url, "administration " + url.removeprefix(base))

        # --- Pre-join and the room, each panel open
        audit.visit(moderator, room_url, "pre-join")
        enter_room(moderator, room_url)
        expect(moderator.locator("#room-status")).to_have_text(
            "Vous êtes dans la réunion.", timeout=20_000
        )
        audit.check(moderator, "room")
        for panel in ("participants", "chat"):
            open_panel(moderator, panel)
            audit.check(moderator, f"room, {panel} panel")

        # --- A guest: name form, waiting page; the moderator's lobby panel
        guest = browser_context_factory(base).new_page()
        guest.goto(invitation)
        audit.check(guest, "invitation: the guest's name")
        wait_in_lobby(guest, invitation, GUEST_NAME)
        audit.check(guest, "lobby, waiting")
        open_panel(moderator, "lobby")
        expect(moderator.locator("#lobby-list")).to_contain_text(GUEST_NAME)
        audit.check(moderator, "room, lobby panel")

        # --- The platform's administration
        platform = browser_context_factory(base).new_page()
        sign_in(platform, demo_platform, PLATFORM_ADMIN, ministry="numerique")
        audit.visit(platform, f"{base}/plateforme", "platform")
        for url in links_under(platform, base, "/plateforme")[:12]:
            audit.visit(platform, url, "platform " + url.removeprefix(base))

    finally:
        # Shown if a step fails on the way: what was found until then.
        print("\n".join(audit.violations))

    assert len(audit.pages) >= 20, audit.pages
    assert not audit.violations, (
        f"{len(audit.violations)} violation(s) over {len(audit.pages)} pages:\n"
        + "\n".join(audit.violations)
    )


def focus_order(page, limit: int = 80) -> list[str]:
    """The ids of the elements Tab reaches from the top of the page, in order."""
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    page.locator("body").focus()
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate("() => document.activeElement?.id || document.activeElement?.tagName")
        )
    return seen


def tab_to(page, element_id: str, limit: int = 80) -> None:
    """Press Tab until `element_id` has the focus (fails if it never does)."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement?.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_every_room_control_works_from_the_keyboard(demo_platform, browser_context_factory):
    base = demo_platform.url
    moderator = browser_context_factory(base).new_page()
    sign_in(moderator, demo_platform, MODERATOR, ministry="ecologie")
    room_url = create_room(moderator, demo_platform, "Réunion au clavier")
    enter_room(moderator, room_url)
    other = browser_context_factory(base).new_page()
    sign_in(other, demo_platform, OTHER_AGENT, ministry="culture")
    enter_room(other, room_url)
    expect(other.locator("#room-status")).to_have_text("Vous êtes dans la réunion.", timeout=20_000)

    reached = focus_order(other)
    missing = [control for control in TOOLBAR if control not in reached]
    assert not missing, f"not reachable with Tab: {missing} (order: {reached})"

    # Space and Enter operate the toggles; the state is exposed (aria-pressed / aria-expanded).
    for control, key in (("toggle-microphone", "Space"), ("toggle-hand", "Enter")):
        before = other.locator(f"#{control}").get_attribute("aria-pressed")
        tab_to(other, control)
        other.keyboard.press(key)
        expect(other.locator(f"#{control}")).not_to_have_attribute("aria-pressed", before)
    expect(moderator.locator("#room-announcements")).to_contain_text("lève la main")

    tab_to(other, "toggle-view")
    other.keyboard.press("Enter")
    expect(other.locator("#toggle-view")).to_have_attribute("aria-pressed", "true")

    # The chat: opened from the keyboard, the focus goes into it, Enter sends, Escape closes
    # it and gives the focus back to its button.
    tab_to(other, "toggle-chat")
    other.keyboard.press("Enter")
    expect(other.locator("#chat-panel")).to_be_visible()
    expect(other.locator("#chat-input")).to_be_focused()
    other.keyboard.type("Bonjour au clavier")
    other.keyboard.press("Enter")
    expect(moderator.locator("#chat-messages, #room-announcements")).to_contain_text(
        ["Bonjour au clavier"], timeout=10_000
    )
    other.keyboard.press("Escape")
    expect(other.locator("#chat-panel")).to_be_hidden()
    expect(other.locator("#toggle-chat")).to_be_focused()

    tab_to(other, "toggle-participants")
    other.keyboard.press("Enter")
    expect(other.locator("#participants-panel")).to_be_visible()
    other.keyboard.press("Escape")
    expect(other.locator("#participants-panel")).to_be_hidden()

    # Leaving, from the keyboard too.
    tab_to(other, "leave")
    other.keyboard.press("Enter")
    expect(moderator.locator("#room-announcements")).to_contain_text("a quitté la réunion")


def test_the_room_announces_arrivals_hands_and_knocks_politely(
    demo_platform, browser_context_factory
):
    base = demo_platform.url
    moderator = browser_context_factory(base).new_page()
    sign_in(moderator, demo_platform, MODERATOR, ministry="ecologie")
    room_url = create_room(moderator, demo_platform, "Réunion annoncée")
    invitation = create_invitation(moderator, room_url)
    enter_room(moderator, room_url)
    announcements = moderator.locator("#room-announcements")
    expect(announcements).to_have_attribute("aria-live", "polite")

    other = browser_context_factory(base).new_page()
    sign_in(other, demo_platform, OTHER_AGENT, ministry="culture")
    enter_room(other, room_url)
    expect(announcements).to_contain_text("a rejoint la réunion", timeout=20_000)

    other.locator("#toggle-hand").click()
    expect(announcements).to_contain_text("lève la main")

    guest = browser_context_factory(base).new_page()
    wait_in_lobby(guest, invitation, GUEST_NAME)
    expect(announcements).to_contain_text(GUEST_NAME, timeout=15_000)
