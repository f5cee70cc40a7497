// Who is in the meeting: the participants panel (role, microphone and camera, raised hand), the
// queue of raised hands in the order they were raised, who is pinned for everyone, and — for
// moderators — the actions on one person: mute their microphone, remove them, make them
// moderator, lower their hand, pin them for everyone (themselves included).

import { language, t } from "../i18n.js";
import { confirmAction } from "./confirm.js";
import { button, element, showCount } from "./dom.js";

const collator = new Intl.Collator(language);

export function roleLabel(participant) {
  const role = roleName(participant);
  if (role === "moderator") return t("participants.role.moderator");
  return role === "guest" ? t("participants.role.guest") : t("participants.role.participant");
}

// The role as the style sheet knows it (participant__role--moderator …), whatever the language.
function roleName(participant) {
  if (participant.role === "moderator") return "moderator";
  return participant.guest ? "guest" : "participant";
}

export class Roster {
  #self = null; // {id, name, role, guest, microphone, camera, hand}
  #others = new Map();
  #hands = [];
  #pinnedForAll = new Set();
  #onPinForAll = () => {};
  #session = null;
  #announce;
  #list = document.getElementById("participants-list");
  #handsSection = document.getElementById("hands-section");
  #handsList = document.getElementById("hands-list");
  #count = document.getElementById("participants-count");
  #listeners = new Set();

  // onPinForAll(participantId): a moderator's "Épingler pour tous" / "Ne plus épingler pour tous".
  constructor({ announce, self, onPinForAll }) {
    this.#announce = announce;
    this.#self = self;
    if (onPinForAll) this.#onPinForAll = onPinForAll;
    this.#render();
  }

  attach(session) {
    this.#session = session;
  }

  get self() {
    return this.#self;
  }

  get isModerator() {
    return this.#self.role === "moderator";
  }

  get everyone() {
    return [this.#self, ...this.#others.values()];
  }

  get hands() {
    return [...this.#hands];
  }

  get(id) {
    return id === this.#self.id ? this.#self : this.#others.get(id);
  }

  nameOf(id) {
    return this.get(id)?.name ?? t("participants.someone");
  }

  // Called with no arguments after every change.
  onChange(listener) {
    this.#listeners.add(listener);
  }

  setSelfId(id) {
    this.#self = { ...this.#self, id };
    this.#changed();
  }

  upsert(participant) {
    if (participant.id === this.#self.id) {
      this.#self = { ...this.#self, ...participant };
    } else {
      this.#others.set(participant.id, { ...this.#others.get(participant.id), ...participant });
    }
    this.#changed();
  }

  remove(id) {
    this.#others.delete(id);
    this.#hands = this.#hands.filter((hand) => hand !== id);
    this.#changed();
  }

  // queue: participant ids in the order hands were raised. Returns the ids newly raised.
  setHands(queue) {
    const raised = queue.filter((id) => !this.#hands.includes(id));
    this.#hands = [...queue];
    this.#changed();
    return raised;
  }

  // ids: the participants pinned for everyone.
  setPinnedForAll(ids) {
    this.#pinnedForAll = new Set(ids);
    this.#changed();
  }

  #changed() {
    this.#render();
    for (const listener of this.#listeners) listener();
  }

  // --- rendering (rebuilt on every change; the focused button is found again afterwards)

  #render() {
    const focused = focusKey(document.activeElement);
    const everyone = [this.#self, ...[...this.#others.values()].sort((a, b) => collator.compare(a.name, b.name))];
    this.#list.replaceChildren(...everyone.map((participant) => this.#item(participant)));
    showCount(this.#count, everyone.length);
    this.#count.hidden = false;

    this.#handsSection.hidden = this.#hands.length === 0;
    this.#handsList.replaceChildren(...this.#hands.map((id) => this.#handItem(id)));
    if (focused) document.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }

  #item(participant) {
    const isSelf = participant.id === this.#self.id;
    const states = [
      participant.microphone === false ? t("participants.microphone.off") : t("participants.microphone.on"),
      participant.camera === false ? t("participants.camera.off") : t("participants.camera.on"),
    ];
    if (participant.screen) states.push(t("participants.screen"));
    const position = this.#hands.indexOf(participant.id);
    const item = element("li", { className: "participant" }, [
      element("p", { className: "participant__name", text: isSelf ? t("room.self.name", { name: participant.name }) : participant.name }),
      element("p", { className: "participant__details" }, [
        element("span", { className: `participant__role participant__role--${roleName(participant)}`, text: roleLabel(participant) }),
        element("span", { className: "participant__state", text: states.join(", ") }),
        ...(position >= 0 ? [element("span", { className: "participant__hand", text: handPosition(position + 1) })] : []),
        ...(this.#pinnedForAll.has(participant.id) ? [element("span", { className: "participant__pinned", text: t("participants.pinned_for_all") })] : []),
      ]),
    ]);
    item.dataset.participantId = participant.id ?? "";
    if (this.isModerator && !isSelf) item.append(this.#actions(participant));
    else if (this.isModerator && participant.id) item.append(element("div", { className: "participant__actions" }, [this.#pinForAllButton(participant, true)]));
    return item;
  }

  // Pinning for everyone: a presenter or an interpreter, whose video then stays forwarded to all
  // when the connection is poor (docs/congestion.md).
  #pinForAllButton(participant, isSelf = false) {
    const pinned = this.#pinnedForAll.has(participant.id);
    const name = participant.name;
    // The label: the visible text first (WCAG 2.5.3), then whom it is about.
    const [text, label] = pinned
      ? [t("participants.unpin_for_all"), isSelf ? t("participants.unpin_for_all.self") : t("participants.unpin_for_all.label", { name })]
      : [t("participants.pin_for_all"), isSelf ? t("participants.pin_for_all.self") : t("participants.pin_for_all.label", { name })];
    const pin = button(text, { label });
    pin.dataset.action = "pin-for-all";
    pin.dataset.focusKey = `pin-for-all:${participant.id}`;
    pin.addEventListener("click", () => this.#onPinForAll(participant.id));
    return pin;
  }

  #actions(participant) {
    const name = participant.name;
    const actions = element("div", { className: "participant__actions" });
    const mute = button(t("participants.mute"), { label: t("participants.mute.label", { name }) });
    mute.dataset.action = "mute";
    mute.disabled = participant.microphone === false;
    mute.addEventListener("click", () => this.#session?.muteParticipant(participant.id));
    actions.append(mute, this.#pinForAllButton(participant));
    if (participant.role !== "moderator") {
      const promote = button(t("participants.promote"), { label: t("participants.promote.label", { name }) });
      promote.dataset.action = "promote";
      promote.addEventListener("click", () => this.#session?.promote(participant.id));
      actions.append(promote);
    }
    const remove = button(t("participants.remove"), {
      label: t("participants.remove.label", { name }),
      className: "room-button room-button--small room-button--danger",
    });
    remove.dataset.action = "remove";
    remove.addEventListener("click", async () => {
      const confirmed = await confirmAction({
        title: t("participants.remove.title", { name }),
        detail: t("participants.remove.detail", { name }),
        confirmLabel: t("participants.remove"),
      });
      if (confirmed) this.#session?.remove(participant.id);
    });
    actions.append(remove);
    for (const node of actions.children) node.dataset.focusKey = `${node.dataset.action}:${participant.id}`;
    return actions;
  }

  #handItem(id) {
    const isSelf = id === this.#self.id;
    const name = isSelf ? t("room.self.name", { name: this.#self.name }) : this.nameOf(id);
    const item = element("li", { className: "hand" }, [element("span", { className: "hand__name", text: name })]);
    item.dataset.participantId = id;
    let lower = null;
    if (isSelf) {
      lower = button(t("participants.hand.lower_mine"));
      lower.addEventListener("click", () => this.#session?.raiseHand(false));
    } else if (this.isModerator) {
      lower = button(t("participants.hand.lower"), { label: t("participants.hand.lower.label", { name }) });
      lower.addEventListener("click", () => this.#session?.lowerHand(id));
    }
    if (lower) {
      lower.dataset.focusKey = `lower:${id}`;
      item.append(" ", lower);
    }
    return item;
  }
}

function focusKey(node) {
  return node?.dataset?.focusKey ?? null;
}

// Place in the queue of raised hands, from 1.
function handPosition(n) {
  return n === 1 ? t("participants.hand.first") : t("participants.hand.nth", { position: n });
}
