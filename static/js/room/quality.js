// What the room shows of the SFU's congestion policy (docs/congestion.md): a notice near the top
// when video is reduced — for the whole room, or for us because of our connection or the
// server — read out once in the page's announcements; a "vidéo suspendue" badge on the tiles
// whose video the SFU no longer forwards to us; and, for moderators, a line on the room's state
// in the participants panel. Everything comes from the SFU's `quality` messages
// (docs/protocol.md, "Congestion"); audio is never reduced, and the texts say so.
//
// The texts are pure functions of the message (exported, so that they can be checked on their
// own); `Quality` puts them in the page.

import { t } from "../i18n.js";

const NORMAL = 0;
const LOWERED = 1;
const LAST_N = 2;
const AUDIO_ONLY = 3;


// The notice for one `quality` message: a sentence, or null when video is not reduced for us.
export function qualityNotice(message) {
  const room = message?.room || {};
  const you = message?.you || {};
  const cpu = you.reason === "cpu";
  if (you.step >= AUDIO_ONLY) {
    return cpu ? t("quality.you.audio_only.server") : t("quality.you.audio_only.connection");
  }
  if (you.step >= LAST_N) {
    return cpu ? t("quality.you.last_n.server") : t("quality.you.last_n.connection");
  }
  if (room.step >= LOWERED) {
    if (room.reason === "cpu") return t("quality.room.server");
    if (["loss", "bandwidth", "queue"].includes(room.reason)) return t("quality.room.connections");
    return t("quality.room.unknown");
  }
  return null;
}

// Whether the SFU forwards no video of this participant to us (their camera and their screen
// share): everyone's at the audio-only step, all but `video_from`'s at the last-N step.
export function isVideoPaused(message, participantId) {
  const you = message?.you || {};
  if (you.step >= AUDIO_ONLY) return true;
  if (you.step >= LAST_N && Array.isArray(you.video_from)) return !you.video_from.includes(participantId);
  return false;
}

// The moderators' line (`moderation` of the message): a sentence, or null when all is well.
export function moderationSummary(moderation) {
  if (!moderation) return null;
  const congested = count(moderation.congested);
  const degraded = count(moderation.degraded);
  const audioOnly = Math.min(count(moderation.audio_only), degraded || Infinity);
  const parts = [];
  // Each text in two forms: ".one" for a count of 1, ".many" for more (a count is never 0 here).
  if (congested === 1) parts.push(t("quality.moderation.congested.one"));
  else if (congested > 1) parts.push(t("quality.moderation.congested.many", { count: congested }));
  if (degraded > 0 && audioOnly >= degraded) {
    if (degraded === 1) parts.push(t("quality.moderation.audio_only.one"));
    else parts.push(t("quality.moderation.audio_only.many", { count: degraded }));
  } else if (degraded === 1) {
    parts.push(t("quality.moderation.degraded.one")); // with audioOnly 0: it is below degraded
  } else if (degraded > 1) {
    const values = { count: degraded, audio_only: audioOnly };
    if (audioOnly === 0) parts.push(t("quality.moderation.degraded.many", values));
    else if (audioOnly === 1) parts.push(t("quality.moderation.degraded.many.audio_only.one", values));
    else parts.push(t("quality.moderation.degraded.many.audio_only.many", values));
  }
  if (moderation.publishers_lowered) parts.push(t("quality.moderation.cameras_lowered"));
  if (parts.length === 0) return null;
  // The French texts put no-break spaces before ":" and ";": a line never starts with them.
  return t("quality.moderation.summary", { parts: parts.join(t("quality.moderation.separator")) });
}

function count(value) {
  return Number.isInteger(value) && value > 0 ? value : 0;
}

export class Quality {
  #announce;
  #notice;
  #moderationLine;
  #onPaused;
  #message = null;
  #shown = null; // the notice's text, null when hidden

  // notice, moderationLine: elements; onPaused(predicate | null): which participants' video is
  // not forwarded to us (null: everyone's is).
  constructor({ announce, notice, moderationLine, onPaused }) {
    this.#announce = announce;
    this.#notice = notice;
    this.#moderationLine = moderationLine;
    this.#onPaused = onPaused;
  }

  get message() {
    return this.#message;
  }

  update(message) {
    this.#message = message;
    const text = qualityNotice(message);
    if (text !== this.#shown) {
      const wasShown = this.#shown !== null;
      this.#show(text);
      if (text) this.#announce(text);
      else if (wasShown) this.#announce(t("quality.restored"));
    }
    const step = message?.you?.step ?? NORMAL;
    this.#onPaused(step >= LAST_N ? (participantId) => isVideoPaused(message, participantId) : null);
    const summary = moderationSummary(message?.moderation);
    this.#moderationLine.textContent = summary || "";
    this.#moderationLine.hidden = !summary;
  }

  // A new session (reconnection) starts normal on its worker, which tells us only if it is not.
  reset() {
    this.#message = null;
    this.#show(null);
    this.#onPaused(null);
    this.#moderationLine.textContent = "";
    this.#moderationLine.hidden = true;
  }

  #show(text) {
    this.#shown = text;
    this.#notice.textContent = text || "";
    this.#notice.hidden = !text;
  }
}
