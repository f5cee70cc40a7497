// Room-wide moderation (shown to moderators only): mute every microphone (optionally forbidding
// to turn it back on), lift that prohibition, lock the room, end the meeting for everyone.
// The room's state comes back from the SFU as `room-updated` and is shown to everyone.

import { t } from "../i18n.js";
import { confirmAction } from "./confirm.js";
import { setPressed } from "./dom.js";

export class Moderation {
  #session = null;
  #section = document.getElementById("moderation-section");
  #muteAll = document.getElementById("mute-all");
  #allowUnmuteBox = document.getElementById("mute-all-allow-unmute");
  #allowUnmute = document.getElementById("allow-unmute");
  #lock = document.getElementById("lock-room");
  #end = document.getElementById("end-meeting");
  #lockedIndicator = document.getElementById("room-locked-indicator");
  #muteAllIndicator = document.getElementById("room-mute-all-indicator");
  #state = { locked: false, mute_all: { active: false, allow_unmute: true } };

  constructor() {
    this.#muteAll.addEventListener("click", () => this.#session?.muteAll(this.#allowUnmuteBox.checked));
    this.#allowUnmute.addEventListener("click", () => this.#session?.allowUnmute());
    this.#lock.addEventListener("click", () => this.#session?.lock(!this.#state.locked));
    this.#end.addEventListener("click", async () => {
      const confirmed = await confirmAction({
        title: t("moderation.end.title"),
        detail: t("moderation.end.detail"),
        confirmLabel: t("moderation.end.confirm"),
      });
      if (confirmed) this.#session?.end();
    });
  }

  get state() {
    return this.#state;
  }

  attach(session) {
    this.#session = session;
  }

  setModerator(isModerator) {
    this.#section.hidden = !isModerator;
  }

  // detail: {locked, muteAll: {active, allowUnmute}} (sfu-client.js; the wire's snake_case is
  // accepted too). Returns what changed, for announcements.
  update(detail) {
    const previous = this.#state;
    const received = detail.muteAll ?? detail.mute_all ?? {};
    this.#state = {
      locked: Boolean(detail.locked),
      mute_all: { active: Boolean(received.active), allow_unmute: (received.allowUnmute ?? received.allow_unmute) !== false },
    };
    const { locked, mute_all: muteAll } = this.#state;
    setPressed(this.#lock, locked);
    this.#lock.textContent = locked ? t("moderation.unlock") : t("moderation.lock");
    this.#lockedIndicator.hidden = !locked;
    this.#allowUnmute.hidden = !(muteAll.active && !muteAll.allow_unmute);
    this.#muteAllIndicator.hidden = !(muteAll.active && !muteAll.allow_unmute);
    this.#muteAllIndicator.textContent = t("moderation.mute_all.indicator");
    return {
      locked: locked !== previous.locked,
      unmuteForbidden: muteAll.active && !muteAll.allow_unmute && !(previous.mute_all.active && !previous.mute_all.allow_unmute),
      unmuteAllowed: previous.mute_all.active && !previous.mute_all.allow_unmute && !(muteAll.active && !muteAll.allow_unmute),
    };
  }

  get unmuteForbidden() {
    return this.#state.mute_all.active && !this.#state.mute_all.allow_unmute;
  }
}
