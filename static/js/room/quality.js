// What the room shows of the SFU's congestion policy (docs/congestion.md): a notice near the top
// when video is reduced — for the whole room, or for us because of our connection or the
// server — read out once in the page's announcements; a "vidéo suspendue" badge on the tiles
// whose video the SFU no longer forwards to us; and, for moderators, a line on the room's state
// in the participants panel. Everything comes from the SFU's `quality` messages
// (docs/protocol.md, "Congestion"); audio is never reduced, and the texts say so.
//
// The texts are pure functions of the message (exported, so that they can be checked on their
// own); `Quality` puts them in the page.

const NORMAL = 0;
const LOWERED = 1;
const LAST_N = 2;
const AUDIO_ONLY = 3;

const ROOM_REASONS = {
  cpu: " : le serveur est très chargé.",
  loss: " : la connexion de certains participants est lente.",
  bandwidth: " : la connexion de certains participants est lente.",
  queue: " : la connexion de certains participants est lente.",
};

// The notice for one `quality` message: a sentence, or null when video is not reduced for us.
export function qualityNotice(message) {
  const room = message?.room || {};
  const you = message?.you || {};
  const cpu = you.reason === "cpu";
  if (you.step >= AUDIO_ONLY) {
    return cpu
      ? "Le serveur est trop chargé pour la vidéo : vous ne recevez plus que le son. La vidéo reviendra d'elle-même."
      : "Votre connexion est trop lente pour la vidéo : vous ne recevez plus que le son. La vidéo reviendra d'elle-même.";
  }
  if (you.step >= LAST_N) {
    const why = cpu ? "Le serveur est très chargé" : "Votre connexion est lente";
    return `${why} : vous ne recevez la vidéo que des dernières personnes ayant parlé et des personnes épinglées. Les autres vidéos reviendront d'elles-mêmes.`;
  }
  if (room.step >= LOWERED) {
    return `La qualité vidéo est réduite pour préserver le son de tous${ROOM_REASONS[room.reason] || " (réseau ou serveur chargé)."}`;
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
  if (congested > 0) parts.push(plural(congested, "connexion en difficulté", "connexions en difficulté"));
  if (degraded > 0 && audioOnly >= degraded) {
    parts.push(plural(degraded, "participant ne reçoit plus que le son", "participants ne reçoivent plus que le son"));
  } else if (degraded > 0) {
    let part = plural(degraded, "participant reçoit moins de vidéos", "participants reçoivent moins de vidéos");
    if (audioOnly > 0) part += `, dont ${audioOnly} ${audioOnly > 1 ? "ne reçoivent" : "ne reçoit"} plus que le son`;
    parts.push(part);
  }
  if (moderation.publishers_lowered) parts.push("qualité des caméras réduite pour tous");
  if (parts.length === 0) return null;
  // No-break spaces before ":" and ";" (French typography): a line never starts with them.
  return `Qualité de la réunion\u00a0: ${parts.join("\u00a0; ")}.`;
}

function count(value) {
  return Number.isInteger(value) && value > 0 ? value : 0;
}

function plural(n, one, many) {
  return `${n} ${n > 1 ? many : one}`;
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
      else if (wasShown) this.#announce("Qualité vidéo rétablie.");
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
