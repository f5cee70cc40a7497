// The waiting room, for moderators: polls the portal's lobby endpoint (data-lobby-url) every
// 2 s, lists who waits with "Admettre" / "Refuser", offers "Tout admettre", and announces each
// new arrival. The JSON is the portal's (docs/meetings.md, "Portal endpoints for the lobby").

import { t } from "../i18n.js";
import { button, element, showCount } from "./dom.js";

const POLL_INTERVAL_MS = 2000;

export class LobbyPanel {
  #url;
  #csrfToken;
  #announce;
  #timer = null;
  #stopped = true;
  #known = new Set(); // guest ids already announced
  #toggle = document.getElementById("toggle-lobby");
  #count = document.getElementById("lobby-count");
  #list = document.getElementById("lobby-list");
  #empty = document.getElementById("lobby-empty");
  #admitAll = document.getElementById("lobby-admit-all");
  #error = document.getElementById("lobby-error");

  constructor({ url, csrfToken, announce }) {
    this.#url = url.replace(/\/+$/, "");
    this.#csrfToken = csrfToken;
    this.#announce = announce;
    this.#admitAll.addEventListener("click", () => this.#decide(`${this.#url}/admettre-tous`, t("lobby_panel.admitted_all")));
  }

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#toggle.hidden = false;
    this.#poll();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #poll() {
    if (this.#stopped) return;
    try {
      const response = await fetch(this.#url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        // Not (or no longer) a moderator of this room for the portal: nothing to show.
        this.#toggle.hidden = true;
        this.stop();
        return;
      }
      if (response.ok) this.#show((await response.json()).waiting || []);
    } catch (error) {
      console.warn("lobby: poll failed", error);
    }
    if (!this.#stopped) this.#timer = setTimeout(() => this.#poll(), POLL_INTERVAL_MS);
  }

  #show(waiting) {
    const arrivals = waiting.filter((guest) => !this.#known.has(guest.id));
    this.#known = new Set(waiting.map((guest) => guest.id));
    if (arrivals.length === 1) this.#announce(t("lobby_panel.arrival.one", { name: arrivals[0].name }));
    else if (arrivals.length > 1) this.#announce(t("lobby_panel.arrival.many", { count: arrivals.length }));

    const focused = document.activeElement?.dataset?.focusKey;
    this.#list.replaceChildren(...waiting.map((guest) => this.#item(guest)));
    if (focused) document.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    this.#empty.hidden = waiting.length > 0;
    this.#admitAll.hidden = waiting.length < 2;
    showCount(this.#count, waiting.length);
    this.#toggle.classList.toggle("toolbar__button--attention", waiting.length > 0);
  }

  #item(guest) {
    const admit = button(t("lobby_panel.admit"), { label: t("lobby_panel.admit.label", { name: guest.name }) });
    admit.dataset.focusKey = `admit:${guest.id}`;
    admit.addEventListener("click", () =>
      this.#decide(`${this.#url}/${encodeURIComponent(guest.id)}/admettre`, t("lobby_panel.admitted", { name: guest.name })),
    );
    const refuse = button(t("lobby_panel.refuse"), {
      label: t("lobby_panel.refuse.label", { name: guest.name }),
      className: "room-button room-button--small room-button--danger",
    });
    refuse.dataset.focusKey = `refuse:${guest.id}`;
    refuse.addEventListener("click", () =>
      this.#decide(`${this.#url}/${encodeURIComponent(guest.id)}/refuser`, t("lobby_panel.refused", { name: guest.name })),
    );
    const since = guest.since ? waitingSince(guest.since) : "";
    const item = element("li", { className: "lobby-guest" }, [
      element("p", { className: "lobby-guest__name", text: guest.name }),
      ...(since ? [element("p", { className: "lobby-guest__since", text: since })] : []),
      element("div", { className: "participant__actions" }, [admit, refuse]),
    ]);
    item.dataset.guestId = guest.id;
    return item;
  }

  async #decide(url, done) {
    this.#error.hidden = true;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": this.#csrfToken, Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(t("lobby_panel.error.http", { status: response.status }));
      this.#announce(done);
    } catch (error) {
      this.#error.textContent = t("lobby_panel.decision.failed", { error: error.message });
      this.#error.hidden = false;
    }
    clearTimeout(this.#timer);
    this.#poll();
  }
}

// `since`: seconds since the epoch (or an ISO string) of the guest's arrival.
function waitingSince(since) {
  const at = typeof since === "number" ? new Date(since < 1e12 ? since * 1000 : since) : new Date(since);
  if (Number.isNaN(at.getTime())) return "";
  const minutes = Math.floor((Date.now() - at.getTime()) / 60000);
  return minutes < 1 ? t("lobby_panel.since.under_a_minute") : t("lobby_panel.since.minutes", { minutes });
}
