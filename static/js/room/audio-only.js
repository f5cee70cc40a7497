// "Audio seul" in the room: a toolbar toggle, joining in the mode chosen on the pre-join page
// (<main data-audio-only="on|off">), and a badge on the tiles of participants in that mode.
// The SFU enforces it (docs/protocol.md, "Audio-only"): no video is forwarded to us, our camera
// is not forwarded. The camera itself belongs to room.js: it is told of every change of mode
// through `onChange(enabled)` and closes the camera on entering the mode (the camera button is
// disabled meanwhile). The mode outlives sessions: attach(session) again after a reconnection
// and the new session is put in the same mode.

import { t } from "../i18n.js";

export class AudioOnly {
  #root;
  #announce;
  #onChange;
  #cameraButton;
  #toggle;
  #enabled;
  #session = null;
  // The mode last asked of the server, until the server's echo says so. An earlier echo (a
  // `participant-updated` sent for a change made just before, e.g. the camera turned off) may
  // still be on its way and must not flip the mode back.
  #requested = null;

  constructor({ root, announce, onChange = () => {} }) {
    this.#root = root;
    this.#announce = announce;
    this.#onChange = onChange;
    this.#cameraButton = document.getElementById("toggle-camera");
    this.#enabled = root.dataset.audioOnly === "on";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.id = "toggle-audio-only";
    toggle.className = "toolbar__button";
    toggle.textContent = t("audio_only.button");
    this.#cameraButton?.after(toggle);
    toggle.addEventListener("click", () => this.#choose(!this.#enabled));
    this.#toggle = toggle;
    this.#show();
  }

  get enabled() {
    return this.#enabled;
  }

  attach(session) {
    this.#session = session;
    this.#requested = null;
    const current = () => this.#session === session;
    session.addEventListener("joined", ({ detail }) => {
      if (!current()) return;
      // Join in the mode chosen (before entering, or earlier in the room before a reconnection);
      // the token only carries the room's default.
      if (Boolean(detail.me?.audio_only) !== this.#enabled) this.#ask(this.#enabled);
      for (const participant of detail.participants) this.#badge(participant);
    });
    for (const type of ["participant-joined", "participant-updated"]) {
      session.addEventListener(type, ({ detail }) => {
        if (!current()) return;
        if (detail.id === session.participantId) {
          this.#serverSays(Boolean(detail.audio_only));
        } else {
          // The tile may be created by the same event: mark it once the room has drawn it.
          setTimeout(() => this.#badge(detail), 0);
        }
      });
    }
  }

  #choose(enabled) {
    this.#ask(enabled);
    this.#set(enabled);
    this.#announce(
      enabled
        ? t("audio_only.entered")
        : t("audio_only.left"),
    );
  }

  #ask(enabled) {
    if (!this.#session) return;
    this.#requested = enabled;
    this.#session.setAudioOnly(enabled);
  }

  #serverSays(enabled) {
    if (this.#requested !== null) {
      if (enabled === this.#requested) this.#requested = null;
      return;
    }
    if (enabled !== this.#enabled) this.#set(enabled);
  }

  #set(enabled) {
    if (enabled === this.#enabled) return;
    this.#enabled = enabled;
    this.#show();
    this.#onChange(enabled);
  }

  #show() {
    this.#toggle.setAttribute("aria-pressed", String(this.#enabled));
    // No camera in audio-only mode; leaving it does not turn the camera back on by itself.
    if (this.#cameraButton) this.#cameraButton.disabled = this.#enabled;
  }

  #badge(participant) {
    for (const tile of this.#root.querySelectorAll(".tile")) {
      if (tile.dataset.participantId !== participant.id || tile.dataset.kind !== "camera") continue;
      let mark = tile.querySelector(".tile__audio-only");
      if (participant.audio_only && !mark) {
        mark = document.createElement("span");
        mark.className = "tile__audio-only room__badge";
        mark.textContent = t("audio_only.badge");
        tile.append(mark);
      } else if (!participant.audio_only && mark) {
        mark.remove();
      }
    }
  }
}
