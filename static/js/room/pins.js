// Pins (docs/congestion.md): someone we pin keeps their video on our screen when the SFU gives up
// video for us (at most three); a moderator may pin someone for everyone (a presenter, a
// sign-language interpreter), which also spares their camera the room-wide reduction. Our own
// pins come back from the SFU in `pins`, the room's in `joined` / `room-updated` (`pinned`);
// the page shows what the SFU says, never what it merely asked.
//
// Pins outlive a reconnection: the new worker knows nobody, and everyone comes back under a new
// participant id, so the pins are remembered by name and asked again as those people arrive
// (for a minute). The room's pins are asked again by moderators' pages, as any moderator could.

import { t } from "../i18n.js";

const MAX_PINS = 3;
const REPIN_WINDOW_MS = 60_000;

export class Pins {
  #session = null;
  #announce;
  #nameOf;
  #isModerator;
  #onChange;
  #mine = new Set(); // participant ids we pinned (the SFU's `pins`)
  #room = new Set(); // participant ids pinned for everyone (`pinned`)
  #lastAsked = "mine"; // "mine" or "room": what a `too_many_pins` refusal is about
  #pending = { mine: [], room: [], until: 0 }; // names to pin again after a reconnection

  // nameOf(id) → display name (null if unknown); isModerator() → bool; onChange({mine, room})
  // after every change.
  constructor({ announce, nameOf, isModerator, onChange }) {
    this.#announce = announce;
    this.#nameOf = nameOf;
    this.#isModerator = isModerator;
    this.#onChange = onChange;
  }

  get mine() {
    return new Set(this.#mine);
  }

  get room() {
    return new Set(this.#room);
  }

  attach(session) {
    this.#session = session;
    const current = () => this.#session === session;
    session.addEventListener("joined", ({ detail }) => {
      if (!current()) return;
      this.#pending.until = performance.now() + REPIN_WINDOW_MS;
      this.#setRoom(detail.pinned || [], { quiet: true });
      if (detail.me) this.#arrived({ ...detail.me, id: detail.participantId }, { self: true });
      for (const participant of detail.participants) this.#arrived(participant);
    });
    session.addEventListener("participant-joined", ({ detail }) => current() && this.#arrived(detail));
    session.addEventListener("participant-left", ({ detail }) => {
      // The SFU keeps a departed person in our pins, where they would take one of the three.
      if (current() && this.#mine.has(detail.id)) session.pin(detail.id, false);
    });
    session.addEventListener("pins", ({ detail }) => {
      if (!current()) return;
      this.#mine = new Set(detail.pinned);
      this.#changed();
    });
    session.addEventListener("room-updated", ({ detail }) => current() && this.#setRoom(detail.pinned || []));
  }

  // Our own pin on someone, on or off (the tile's "Épingler" button).
  toggle(participantId) {
    if (!this.#session) return;
    this.#lastAsked = "mine";
    this.#session.pin(participantId, !this.#mine.has(participantId));
  }

  // A moderator's pin for everyone, on or off (the participants panel).
  toggleForAll(participantId) {
    if (!this.#session) return;
    this.#lastAsked = "room";
    this.#session.pinForAll(participantId, !this.#room.has(participantId));
  }

  // What to say of a `too_many_pins` refusal.
  refusal() {
    return this.#lastAsked === "room"
      ? t("pins.refused.for_all")
      : t("pins.refused.mine");
  }

  // The session was lost: remember who was pinned, by name, to ask again in the next one.
  suspend() {
    const names = (ids) => [...ids].map((id) => (this.#isSelf(id) ? this.#session.me?.name : this.#nameOf(id))).filter(Boolean);
    this.#pending = {
      mine: [...this.#pending.mine, ...names(this.#mine)].slice(0, MAX_PINS),
      room: this.#isModerator() ? [...this.#pending.room, ...names(this.#room)].slice(0, MAX_PINS) : [],
      until: 0,
    };
    this.#mine = new Set();
    this.#room = new Set();
    this.#changed();
  }

  // Someone present in the new session (ourselves included, for the room's pins).
  #arrived(participant, { self = false } = {}) {
    if (performance.now() > this.#pending.until) {
      this.#pending = { mine: [], room: [], until: 0 };
      return;
    }
    const take = (list) => {
      const index = list.indexOf(participant.name);
      if (index < 0) return false;
      list.splice(index, 1);
      return true;
    };
    if (!self && take(this.#pending.mine)) this.#session.pin(participant.id, true);
    if (take(this.#pending.room) && this.#isModerator() && !this.#room.has(participant.id)) {
      this.#session.pinForAll(participant.id, true);
    }
  }

  #setRoom(ids, { quiet = false } = {}) {
    const next = new Set(ids);
    if (!quiet) {
      const added = [...next].filter((id) => !this.#room.has(id));
      const removed = [...this.#room].filter((id) => !next.has(id));
      const said = [
        ...added.map((id) => this.#pinnedSentence(id)),
        ...removed.map((id) => this.#unpinnedSentence(id)),
      ];
      if (said.length) this.#announce(said.join(" "));
    }
    const changed = next.size !== this.#room.size || [...next].some((id) => !this.#room.has(id));
    this.#room = next;
    if (changed || quiet) this.#changed();
  }

  #pinnedSentence(id) {
    if (this.#isSelf(id)) return t("pins.pinned.self");
    const name = this.#nameOf(id);
    return name ? t("pins.pinned.other", { name }) : t("pins.pinned.someone");
  }

  #unpinnedSentence(id) {
    if (this.#isSelf(id)) return t("pins.unpinned.self");
    const name = this.#nameOf(id);
    return name ? t("pins.unpinned.other", { name }) : t("pins.unpinned.someone");
  }

  #isSelf(id) {
    return this.#session !== null && id === this.#session.participantId;
  }

  #changed() {
    this.#onChange({ mine: this.mine, room: this.room });
  }
}
