"""No page of the platform asks anything of a third party: every request a real browser makes,
through every page, goes to the portal itself or to an SFU worker the portal sent it to — and,
while signing in only, to the ministry's identity provider.

Headless Chromium (fake camera and microphone) goes through the demo platform as people do:
home, privacy page and sign-in page anonymously, sign-in at the identity provider, room
creation, settings and invitations, the ministry's administration pages, pre-join and room with
a second participant (media flows both ways), a guest waiting in the lobby until admitted, and
the platform administration pages. Recorded on the way, for every browser profile: every
request (page and context), every WebSocket, every RTCPeerConnection configuration (an init
script wraps the constructor), the ICE candidates gathered, every resource a document names,
every Content-Security-Policy violation, and the CSP header of every document the portal serves.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.media import RECORD_PEER_CONNECTIONS, wait_for_media_from_other
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

MODERATOR = "camille.martin@ecologie.gouv.fr"  # Écologie's administrator, its own provider
OTHER_AGENT = "julien.petit@culture.gouv.fr"  # Culture, its own provider
PLATFORM_ADMIN = "dominique.lefevre@numerique.gouv.fr"  # through the federation
GUEST_NAME = "Aline Invitée"
SIGN_IN = "sign-in"  # the one step where the identity provider may be reached
# Hosts a careless template or library would call: none may ever appear.
WELL_KNOWN_THIRD_PARTIES = (
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "googletagmanager.com",
    "google-analytics.com",
    "stun.l.google.com",
    "stun.services.mozilla.com",
    "cdn.jsdelivr.net",
    "unpkg.com",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "stats.data.gouv.fr",
    "matomo",
    "xiti",
    "hotjar",
)
# Schemes that never leave the browser.
LOCAL_SCHEMES = ("data", "blob", "about", "chrome-error")
CSP_KEYWORDS = ("'self'", "'none'", "data:", "blob:")

# Runs in every frame before the page's scripts: reports through the exposed binding each
# RTCPeerConnection configuration, each resource the document names once parsed (stylesheets,
# fonts, scripts, images, frames, form targets), and each CSP violation.
RECORD_IN_BROWSER = """
(() => {
  const report = (kind, detail) => {
    try { window.__privacyReport(kind, detail); } catch (error) { /* page going away */ }
  };
  const Original = window.RTCPeerConnection;
  if (Original) {
    window.RTCPeerConnection = class extends Original {
      constructor(configuration, ...rest) {
        const given = configuration === undefined ? null : configuration;
        report("rtc-configuration", JSON.stringify(given));
        super(configuration, ...rest);
      }
    };
  }
  document.addEventListener("securitypolicyviolation", (event) => {
    report("csp-violation", `${event.violatedDirective} ${event.blockedURI}`);
  });
  const NAMED = [
    ["link[href]", "href"], ["script[src]", "src"], ["img[src]", "src"], ["iframe[src]", "src"],
    ["source[src]", "src"], ["video[src]", "src"], ["audio[src]", "src"], ["track[src]", "src"],
    ["embed[src]", "src"], ["object[data]", "data"], ["form[action]", "action"],
  ];
  document.addEventListener("DOMContentLoaded", () => {
    for (const [selector, attribute] of NAMED) {
      for (const element of document.querySelectorAll(selector)) {
        report("named-resource", new URL(element.getAttribute(attribute), document.baseURI).href);
      }
    }
  });
})();
"""

# Every ICE candidate the page's peer connections gathered, with the STUN/TURN server it came
# from (`url`, set for server-reflexive and relayed candidates).
LOCAL_CANDIDATES = """
async () => {
  const candidates = [];
  for (const pc of window.__peerConnections) {
    (await pc.getStats()).forEach((report) => {
      if (report.type === "local-candidate") {
        candidates.push({ type: report.candidateType, url: report.url || "" });
      }
    });
  }
  return candidates;
}
"""


def origin_of(url: str) -> str:
    """scheme://host:port, the port made explicit; the scheme alone for local schemes."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return parts.scheme + ":"
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or default}"


def ice_host(url: str) -> str:
    """The host of a stun:/turn:/turns: URL (`turn:host:port?transport=udp`)."""
    rest = url.split(":", 1)[1].lstrip("/")
    rest = rest.split("?", 1)[0]
    if rest.startswith("["):
        return rest[1 : rest.index("]")]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


@dataclass(frozen=True)
class Seen:
    who: str  # the browser profile (person)
    step: str
    kind: str  # request, websocket, named-resource, rtc-configuration, csp-violation
    url: str  # what was asked for (the page's own URL for a configuration or a violation)
    detail: str = ""


@dataclass
class Recorder:
    """Everything the browser profiles it watches asked for, labelled by person and step."""

    seen: list[Seen] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)
    # (who, step, url, Content-Security-Policy or None) of every document.
    documents: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    # Origins of the signalling URLs the portal's join tickets named.
    signalling_origins: set[str] = field(default_factory=set)

    def watch(self, context, who: str):
        self.steps[who] = "start"

        def add(kind: str, url: str, detail: str = "") -> None:
            self.seen.append(Seen(who, self.steps[who], kind, url, detail))

        def on_response(response) -> None:
            request = response.request
            if request.resource_type == "document":
                headers = response.all_headers()
                self.documents.append(
                    (who, self.steps[who], response.url, headers.get("content-security-policy"))
                )
            elif request.method == "POST" and response.url.endswith("/jeton") and response.ok:
                self.signalling_origins.add(origin_of(response.json()["signalling_url"]))

        def on_page(page) -> None:
            page.on("request", lambda request: add("request", request.url, request.resource_type))
            page.on("websocket", lambda socket: add("websocket", socket.url))

        context.on("request", lambda request: add("request", request.url, request.resource_type))
        context.on("response", on_response)
        context.on("page", on_page)
        context.expose_binding(
            "__privacyReport",
            lambda source, kind, detail: add(
                kind, detail if kind == "named-resource" else source["frame"].url, detail
            ),
        )
        context.add_init_script(RECORD_PEER_CONNECTIONS)
        context.add_init_script(RECORD_IN_BROWSER)
        return context

    @contextmanager
    def step(self, who: str, name: str) -> Iterator[None]:
        self.steps[who] = name
        try:
            yield
        finally:
            self.steps[who] = f"after {name}"

    def of_kind(self, *kinds: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.kind in kinds]


def identity_provider_origins(platform) -> set[str]:
    with closing(sqlite3.connect(platform.state_dir / "webconf.sqlite3")) as connection:
        issuers = [row[0] for row in connection.execute("SELECT issuer FROM identity_providers")]
    return {origin_of(issuer) for issuer in issuers}


def own_hosts(portal_url: str) -> set[str]:
    """The host names of the institution's own servers in the demo: the portal's host (all of
    loopback when that is where it runs)."""
    host = urlsplit(portal_url).hostname
    loopback = {"localhost", "127.0.0.1", "::1"}
    return loopback if host in loopback else {host}


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"


def crawl(page, base_url: str, prefix: str, limit: int = 30) -> list[str]:
    """Visit `prefix` and every page under it linked from there (two levels); returns them."""
    visited: list[str] = []
    queue = [base_url + prefix]
    while queue and len(visited) < limit:
        url = queue.pop(0)
        if url in visited:
            continue
        visit(page, url)
        visited.append(url)
        queue.extend(link for link in links_under(page, base_url, prefix) if link not in visited)
    return visited


def csp_problems(policy: str | None, allowed_connect: set[str], allowed_forms: set[str]) -> list:
    """Sources of a CSP that name another origin than the portal's own: only the SFU workers'
    WebSocket origins (connect-src) and the identity providers (form-action: sign-in and
    sign-out forms go on to them) may appear."""
    if not policy:
        return ["no Content-Security-Policy"]
    problems = []
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        for source in sources:
            if source in CSP_KEYWORDS:
                continue
            if name == "connect-src" and source in allowed_connect:
                continue
            if name == "form-action" and origin_of(source) in allowed_forms:
                continue
            problems.append(f"{name} {source}")
    return problems


def test_pages_ask_nothing_of_third_parties(demo_platform, browser_context_factory):
    recorder = Recorder()
    portal = demo_platform.url
    portal_origin = origin_of(portal)
    providers = identity_provider_origins(demo_platform)
    hosts = own_hosts(portal)

    # --- The moderator: anonymous first, then signed in; every page they can reach.
    moderator_page = recorder.watch(browser_context_factory(), "moderator").new_page()
    page = moderator_page
    with recorder.step("moderator", "home, anonymous"):
        visit(page, f"{portal}/")
    with recorder.step("moderator", "privacy page, anonymous"):
        visit(page, f"{portal}/confidentialite")
        expect(page.locator("h1")).to_have_text("Données personnelles et confidentialité")
    with recorder.step("moderator", "sign-in page"):
        visit(page, f"{portal}/connexion")
    with recorder.step("moderator", SIGN_IN):
        sign_in(page, demo_platform, MODERATOR, ministry="ecologie")
    with recorder.step("moderator", "home and rooms"):
        visit(page, f"{portal}/")
        visit(page, f"{portal}/salles")
        room_url = create_room(page, demo_platform, "Réunion sans tiers")
        visit(page, f"{room_url}/parametres")
        invitation = create_invitation(page, room_url)
        assert invitation.startswith(f"{portal}/i/")
    with recorder.step("moderator", "privacy page, signed in"):
        visit(page, f"{portal}/confidentialite")
        expect(page.locator("#privacy-tenant")).to_contain_text("Écologie")
    with recorder.step("moderator", "ministry administration"):
        admin_pages = crawl(page, portal, "/admin/")
        assert len(admin_pages) >= 6, admin_pages
    with recorder.step("moderator", "pre-join and room"):
        enter_room(page, room_url)
        expect(page.locator("#room-status")).to_have_text("Vous êtes dans la réunion.")

    # --- A second participant, from another ministry: media flows both ways.
    other_page = recorder.watch(browser_context_factory(), "other agent").new_page()
    with recorder.step("other agent", SIGN_IN):
        sign_in(other_page, demo_platform, OTHER_AGENT, ministry="culture")
    with recorder.step("other agent", "pre-join and room"):
        enter_room(other_page, room_url)
    for participant in (moderator_page, other_page):
        assert wait_for_media_from_other(participant)["frameWidth"] > 0
    candidates = {
        who: participant.evaluate(LOCAL_CANDIDATES)
        for who, participant in (("moderator", moderator_page), ("other agent", other_page))
    }

    # --- A guest with the invitation link waits in the lobby (its page polls) until admitted.
    guest_page = recorder.watch(browser_context_factory(), "guest").new_page()
    with recorder.step("guest", "invitation and lobby"):
        wait_in_lobby(guest_page, invitation, GUEST_NAME)
        expect(moderator_page.locator("#lobby-count")).to_have_text("(1)")
        guest_page.wait_for_timeout(4500)  # two or three polls of the waiting page
    with recorder.step("moderator", "admitting from the lobby"):
        open_panel(moderator_page, "lobby")
        moderator_page.get_by_role("button", name=f"Admettre {GUEST_NAME}").click()
    with recorder.step("guest", "pre-join after the lobby"):
        guest_page.wait_for_url(re.compile(re.escape(room_url) + r"/?$"))
        expect(guest_page.locator("#prejoin-form")).to_be_visible()
    for participant, who in ((other_page, "other agent"), (moderator_page, "moderator")):
        with recorder.step(who, "leaving"):
            participant.click("#leave")

    # --- The platform administrator, through the federation.
    platform_page = recorder.watch(browser_context_factory(), "platform admin").new_page()
    with recorder.step("platform admin", SIGN_IN):
        sign_in(platform_page, demo_platform, PLATFORM_ADMIN, ministry="numerique")
    with recorder.step("platform admin", "platform administration"):
        platform_pages = crawl(platform_page, portal, "/plateforme/")
        assert f"{portal}/plateforme/serveurs-media" in platform_pages
        assert len(platform_pages) >= 5, platform_pages

    # --- What was asked for, and of whom.
    report = summary(recorder)
    report += "\n  pages crawled: " + " ".join(
        urlsplit(url).path for url in admin_pages + platform_pages
    )
    print(report)  # kept in the output: which origins each step reached (pytest -s, or on failure)

    # The recording works: it saw the provider while signing in, and the WebSockets.
    assert recorder.signalling_origins, "no join ticket was recorded"
    for signalling in recorder.signalling_origins:
        assert urlsplit(signalling).hostname in hosts, f"SFU worker elsewhere: {signalling}"
        assert urlsplit(signalling).scheme in ("ws", "wss")
    sockets = recorder.of_kind("websocket")
    assert sockets and {origin_of(s.url) for s in sockets} <= recorder.signalling_origins, report
    assert any(
        s.step == SIGN_IN and origin_of(s.url) in providers for s in recorder.of_kind("request")
    ), "the sign-in at the identity provider was not recorded"

    allowed = {portal_origin, *recorder.signalling_origins}
    unexpected = sorted(
        {
            (s.who, s.step, s.kind, s.url)
            for s in recorder.of_kind("request", "websocket", "named-resource")
            if origin_of(s.url) not in allowed
            and not origin_of(s.url).endswith(":")  # data:, blob:, about:
            and not (s.step == SIGN_IN and origin_of(s.url) in providers)
        }
    )
    assert unexpected == [], "requests to other origins:\n" + "\n".join(map(str, unexpected))
    every_url = [s.url for s in recorder.seen] + [s.detail for s in recorder.seen]
    for third_party in WELL_KNOWN_THIRD_PARTIES:
        assert not [url for url in every_url if third_party in url], third_party

    violations = recorder.of_kind("csp-violation")
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(
        f"{v.who} ({v.step}) on {v.url}: {v.detail}" for v in violations
    )

    # ICE: the pages configure no STUN/TURN server but the institution's own, and gather no
    # candidate from anyone else's.
    configurations = recorder.of_kind("rtc-configuration")
    assert configurations, "no RTCPeerConnection was created"
    for recorded in configurations:
        configuration = json.loads(recorded.detail) or {}
        for server in configuration.get("iceServers") or []:
            urls = server.get("urls") or server.get("url") or []
            for url in [urls] if isinstance(urls, str) else urls:
                assert ice_host(url) in hosts, f"third-party ICE server {url} ({recorded.step})"
    for who, gathered in candidates.items():
        assert gathered, f"{who}: no ICE candidate gathered"
        for candidate in gathered:
            if candidate["url"]:
                assert ice_host(candidate["url"]) in hosts, f"{who}: {candidate}"
            assert candidate["type"] in ("host", "prflx") or candidate["url"], candidate

    # Every document the portal served carries a CSP that names no other origin.
    portal_documents = [d for d in recorder.documents if origin_of(d[2]) == portal_origin]
    assert len(portal_documents) >= 20, portal_documents
    connect_sources = {
        f"{scheme}://{host}:*" for scheme in ("ws", "wss") for host in hosts
    } | recorder.signalling_origins
    for who, step, url, policy in portal_documents:
        problems = csp_problems(policy, connect_sources, providers)
        assert problems == [], f"{url} ({who}, {step}): {problems}"


def summary(recorder: Recorder) -> str:
    """Per person and step, the origins reached and how many requests each."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for seen in recorder.of_kind("request", "websocket"):
        counts[(seen.who, seen.step)][f"{seen.kind} {origin_of(seen.url)}"] += 1
    lines = ["origins reached, per person and step:"]
    for (who, step), origins in counts.items():
        reached = ", ".join(f"{origin} ×{number}" for origin, number in sorted(origins.items()))
        lines.append(f"  {who} — {step}: {reached}")
    lines.append(f"  signalling origins from join tickets: {sorted(recorder.signalling_origins)}")
    lines.append(
        f"  RTCPeerConnection configurations: {len(recorder.of_kind('rtc-configuration'))}"
    )
    return "\n".join(lines)
