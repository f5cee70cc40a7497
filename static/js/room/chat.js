// The chat panel: messages relayed by the SFU to the people present, never stored. Sent on Enter
// (the input is in a form). While the panel is closed, new messages are counted on the toolbar
// button and read out in the page's announcements.

import { language, t } from "../i18n.js";
import { element, showCount } from "./dom.js";

const MAX_LENGTH = 2000;
const timeFormat = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });

export class Chat {
  #session = null;
  #announce;
  #isOpen;
  #selfId = () => null;
  #unread = 0;
  // Sent, not yet seen back from the SFU, oldest first: the SFU handles messages in order, so
  // the one it refuses (too fast, too long) is the oldest still waiting.
  #pending = [];
  #list = document.getElementById("chat-messages");
  #form = document.getElementById("chat-form");
  #input = document.getElementById("chat-input");
  #error = document.getElementById("chat-error");
  #unreadBadge = document.getElementById("chat-unread");

  constructor({ announce, isOpen }) {
    this.#announce = announce;
    this.#isOpen = isOpen;
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send();
    });
  }

  attach(session, selfId) {
    this.#session = session;
    this.#selfId = selfId;
    this.#pending = []; // a new session: nothing sent on the old one will come back
  }

  opened() {
    this.#unread = 0;
    showCount(this.#unreadBadge, 0);
  }

  // detail: {from, name, text, at} (docs/meetings.md)
  receive({ from, name, text, at }) {
    const mine = from === this.#selfId();
    if (mine) this.#pending.shift();
    const sender = mine ? t("chat.sender.self") : name || t("chat.sender.unknown");
    const date = toDate(at);
    const item = element("li", { className: mine ? "chat-message chat-message--mine" : "chat-message" }, [
      element("p", { className: "chat-message__meta" }, [
        element("span", { className: "chat-message__sender", text: sender }),
        " ",
        element("time", { className: "chat-message__time", text: timeFormat.format(date), attributes: { datetime: date.toISOString() } }),
      ]),
      element("p", { className: "chat-message__text", text }),
    ]);
    this.#list.append(item);
    item.scrollIntoView({ block: "nearest" });
    if (!mine && !this.#isOpen()) {
      this.#unread += 1;
      showCount(this.#unreadBadge, this.#unread);
      this.#announce(t("chat.received", { sender, text }));
    }
  }

  showError(message) {
    this.#error.textContent = message;
    this.#error.hidden = false;
  }

  // The SFU refused our oldest waiting message: say why, and give its text back to be sent
  // again (unless something new is being typed), so nothing typed is lost.
  refused(message) {
    const text = this.#pending.shift();
    if (text !== undefined && !this.#input.value) this.#input.value = text;
    this.showError(message);
  }

  #send() {
    const text = this.#input.value.trim();
    this.#error.hidden = true;
    if (!text) return;
    if (text.length > MAX_LENGTH) {
      this.showError(t("chat.too_long", { max: MAX_LENGTH }));
      return;
    }
    if (!this.#session) {
      this.showError(t("chat.not_connected"));
      return;
    }
    this.#session.sendChat(text);
    this.#pending.push(text);
    this.#input.value = "";
  }
}

// The SFU's `at` is seconds since the epoch; accept milliseconds and ISO strings too.
function toDate(at) {
  if (typeof at === "number") return new Date(at < 1e12 ? at * 1000 : at);
  const parsed = at ? new Date(at) : new Date();
  return Number.isNaN(parsed.getTime()) ? new Date() : parsed;
}
