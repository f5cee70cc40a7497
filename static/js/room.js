// The in-room page: asks the portal for a join token, joins the SFU and turns the SFU client's
// events into the page. Media and signalling live in sfu-client.js; the page's parts live in
// room/: tiles (mosaic and speaker view), participants (list, raised hands, actions on one
// person), moderation (room-wide), chat, lobby-panel (waiting room), screen-share, panels,
// quality (what the SFU's congestion policy does to our video) and pins.
//
// If the SFU worker is lost (it died, or is draining), the page reconnects by itself: a fresh
// ticket naming the lost worker, a new session with the same local stream, tiles rebuilt as
// tracks arrive (docs/protocol.md, "Reconnection"). Chat history stays; raised hands are lost
// with the worker.
//
// The camera is open only while it is on: in audio-only mode, or with the camera off, it is not
// requested at all (no permission prompt, no camera light); turning it on opens it then, and
// turning it off (or entering audio-only) stops it and stops sending it.

import { t } from "./i18n.js";
import { SfuSession } from "./sfu-client.js";
import { ActiveSpeaker } from "./room/active-speaker.js";
import { AudioOnly } from "./room/audio-only.js";
import { Chat } from "./room/chat.js";
import { createAnnouncer, setPressed } from "./room/dom.js";
import { LobbyPanel } from "./room/lobby-panel.js";
import { Moderation } from "./room/moderation.js";
import { Panels } from "./room/panels.js";
import { Roster } from "./room/participants.js";
import { Pins } from "./room/pins.js";
import { Quality } from "./room/quality.js";
import { ScreenShare } from "./room/screen-share.js";
import { SELF, Tiles } from "./room/tiles.js";

const root = document.getElementById("room");
const statusLine = document.getElementById("room-status");
const microphoneButton = document.getElementById("toggle-microphone");
const cameraButton = document.getElementById("toggle-camera");
const screenButton = document.getElementById("toggle-screen");
const handButton = document.getElementById("toggle-hand");
const viewButton = document.getElementById("toggle-view");
const leaveButton = document.getElementById("leave");

const settings = {
  tokenUrl: root.dataset.tokenUrl,
  displayName: root.dataset.displayName,
  microphone: root.dataset.microphone === "on",
  camera: root.dataset.camera === "on",
  // The room starts everyone in audio-only (its or its ministry's setting): the camera starts
  // off even for those who chose to leave that mode on the pre-join page.
  roomAudioOnly: root.dataset.roomAudioOnly === "on",
  csrfToken: root.dataset.csrfToken,
  leftUrl: root.dataset.leftUrl || "/",
  role: root.dataset.role || "participant",
  lobbyUrl: root.dataset.lobbyUrl || "",
};

let session = null;
let localStream = null;
let over = false;
let workerId = null; // the worker of the current session (from the ticket)

// Waits between reconnection attempts; after the last one the page gives up (about 30 s).
// The portal moves a room off a dead worker once its heartbeat is 3 s old, i.e. between 1 and
// 3 s after the death: asking every half second until then keeps the gap near that bound
// (bench/failover.py measured 3.8 s with attempts at 0.5, 1.5 and 3.5 s), then back off.
const RECONNECT_DELAYS_MS = [500, 500, 500, 500, 500, 500, 1000, 2000, 4000, 8000, 8000];
const trackOwners = new Map(); // remote audio track id → participant id

const announce = createAnnouncer(document.getElementById("room-announcements"));
const setStatus = (message) => (statusLine.textContent = message);
const tiles = new Tiles(document.getElementById("tiles"), { onPin: (participantId) => pins.toggle(participantId) });
const panels = new Panels(root);
const roster = new Roster({
  announce,
  self: { id: null, name: settings.displayName, role: settings.role, guest: false, microphone: settings.microphone, camera: settings.camera },
  onPinForAll: (participantId) => pins.toggleForAll(participantId),
});
const moderation = new Moderation();
const chat = new Chat({ announce, isOpen: () => panels.isOpen("chat-panel") });
const screenShare = new ScreenShare({ onChange: showOwnScreen });
const activeSpeaker = new ActiveSpeaker();
const lobby = settings.lobbyUrl ? new LobbyPanel({ url: settings.lobbyUrl, csrfToken: settings.csrfToken, announce }) : null;
// Entering audio-only closes the camera; leaving it does not reopen it (the camera button does).
const audioOnly = new AudioOnly({ root, announce, onChange: (enabled) => enabled && applyCamera(false) });

// The own tile is keyed "self": the SFU's participant id is only known once joined.
const tileKey = (participantId) => (participantId === roster.self.id ? SELF : participantId);

// Congestion (docs/congestion.md): the notice, the paused tiles, the moderators' line; pins.
const quality = new Quality({
  announce,
  notice: document.getElementById("room-quality"),
  moderationLine: document.getElementById("quality-moderation"),
  onPaused: (paused) => tiles.showPaused(paused),
});
const pins = new Pins({
  announce,
  nameOf: (participantId) => roster.get(participantId)?.name ?? null,
  isModerator: () => roster.isModerator,
  onChange: ({ mine, room }) => {
    tiles.showPins({ mine, room: new Set([...room].map(tileKey)) });
    roster.setPinnedForAll(room);
  },
});

// --- the local microphone and camera

// When one's own change was sent, the SFU's echo of the previous state may still be on its way:
// a "microphone off" for oneself within this window is not read as a moderator's doing.
const OWN_CHANGE_WINDOW_MS = 2000;
let ownMicrophoneChangeAt = -Infinity;

function applyMicrophone(enabled, { tell = true } = {}) {
  if (tell) ownMicrophoneChangeAt = performance.now();
  settings.microphone = enabled;
  localStream?.getAudioTracks().forEach((t) => (t.enabled = enabled));
  if (tell) session?.setMicrophoneEnabled(enabled);
  setPressed(microphoneButton, enabled);
  tiles.showState(SELF, { microphone: enabled });
}

const cameraTrack = () => localStream?.getVideoTracks()[0] || null;
let cameraRequests = 0; // numbers the camera requests: a stale one's camera is closed at once

function showCamera(enabled) {
  setPressed(cameraButton, enabled);
  tiles.showState(SELF, { camera: enabled });
}

function applyCamera(enabled) {
  if (enabled && audioOnly.enabled) enabled = false; // its button is disabled meanwhile
  settings.camera = enabled;
  showCamera(enabled);
  if (!enabled) {
    closeCamera();
    session?.setCameraEnabled(false);
  } else if (cameraTrack()) {
    session?.setCameraEnabled(true);
  } else {
    openCamera();
  }
}

// Stopped, not just disabled: a disabled track keeps the camera light on and still sends black
// frames.
function closeCamera() {
  cameraRequests += 1;
  const track = cameraTrack();
  session?.setCameraTrack(null);
  if (!track) return;
  track.stop();
  localStream.removeTrack(track);
  tiles.showLocalCamera(localStream);
}

// Opened when turned on in the room (after audio-only, or when entering with it off); the others
// are told it is on once it sends.
async function openCamera() {
  const request = ++cameraRequests;
  let track;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    track = stream.getVideoTracks()[0];
  } catch (error) {
    if (request !== cameraRequests || over) return;
    settings.camera = false;
    showCamera(false);
    session?.setCameraEnabled(false);
    announce(cameraFailure(error));
    return;
  }
  // Turned off again, audio-only chosen or the meeting left while the browser was asking.
  if (request !== cameraRequests || !settings.camera || over || !localStream) {
    track.stop();
    return;
  }
  addCamera(track);
  session?.setCameraTrack(track);
  session?.setCameraEnabled(true);
}

function addCamera(track) {
  localStream.addTrack(track);
  tiles.showLocalCamera(localStream);
  watchCamera(track);
}

// Unplugged, or taken by the system: show it off rather than a frozen picture. (Our own stop()
// fires no "ended".)
function watchCamera(track) {
  track.addEventListener("ended", () => {
    if (cameraTrack() === track && !over) {
      applyCamera(false);
      announce(t("room.camera.stopped"));
    }
  });
}

function cameraFailure(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return t("room.camera.denied");
    case "NotFoundError":
    case "OverconstrainedError":
      return t("room.camera.not_found");
    case "NotReadableError":
      return t("room.camera.busy");
    default:
      return t("room.camera.failed");
  }
}

// The microphone always (it may start off); the camera only if it is to be on. If the camera
// cannot be had, one still enters, by voice.
async function openLocalMedia() {
  if (!settings.camera) return navigator.mediaDevices.getUserMedia({ audio: true });
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (error) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true }).catch(() => {
      throw error;
    });
    settings.camera = false;
    announce(cameraFailure(error));
    return stream;
  }
}

function unmuteForbidden() {
  return moderation.unmuteForbidden && !roster.isModerator;
}

function showUnmuteRule() {
  const forbidden = unmuteForbidden();
  if (forbidden) microphoneButton.setAttribute("aria-disabled", "true");
  else microphoneButton.removeAttribute("aria-disabled");
}

microphoneButton.addEventListener("click", () => {
  if (!settings.microphone && unmuteForbidden()) {
    announce(t("room.microphone.forbidden"));
    return;
  }
  applyMicrophone(!settings.microphone);
});
cameraButton.addEventListener("click", () => applyCamera(!settings.camera));

// --- screen share, hand, view

function showOwnScreen(stream) {
  setPressed(screenButton, Boolean(stream));
  if (stream) {
    tiles.startLocalScreen(stream);
    announce(t("room.screen.started"));
  } else {
    tiles.stopScreen(SELF);
    if (!over) announce(t("room.screen.stopped"));
  }
}

screenButton.hidden = !ScreenShare.supported;
screenButton.addEventListener("click", () => {
  if (screenShare.active) {
    screenShare.stop();
    return;
  }
  screenShare.start().catch((error) => {
    if (error?.name === "NotAllowedError") announce(t("room.screen.cancelled"));
    else announce(t("room.screen.failed", { error: error.message }));
  });
});

handButton.addEventListener("click", () => {
  session?.raiseHand(!roster.hands.includes(roster.self.id));
});

function showView(view) {
  setPressed(viewButton, view === "speaker");
}
viewButton.addEventListener("click", () => {
  tiles.setView(tiles.view === "speaker" ? "grid" : "speaker");
  showView(tiles.view);
});
document.getElementById("tiles").addEventListener("viewchange", (event) => showView(event.detail.view));

panels.onChange((id, open) => {
  if (id === "chat-panel" && open) chat.opened();
});

leaveButton.addEventListener("click", () => {
  over = true;
  screenShare.stop();
  session?.leave();
  stopLocalMedia();
  window.location.assign(settings.leftUrl);
});

// --- moderator or not

function showRole() {
  moderation.setModerator(roster.isModerator);
  showUnmuteRule();
}
roster.onChange(() => {
  setPressed(handButton, roster.self.id !== null && roster.hands.includes(roster.self.id));
});

// --- the end: removed, meeting ended, or refused at the door

function stopLocalMedia() {
  activeSpeaker.stop();
  lobby?.stop();
  localStream?.getTracks().forEach((t) => t.stop());
}

function showOver(title, detail) {
  if (over) return;
  over = true;
  screenShare.stop();
  stopLocalMedia();
  const dialog = document.getElementById("confirm-dialog");
  if (dialog.open) dialog.close();
  for (const video of root.querySelectorAll("video")) video.srcObject = null;
  document.getElementById("room-live").hidden = true;
  const panel = document.getElementById("room-over");
  document.getElementById("room-over-title").textContent = title;
  document.getElementById("room-over-detail").textContent = detail;
  document.getElementById("room-over-link").href = settings.leftUrl;
  panel.hidden = false;
  panel.focus();
}

const ENDED_DETAIL = {
  moderator: t("room.ended.by_moderator"),
  schedule: t("room.ended.schedule"),
  max_duration: t("room.ended.max_duration"),
};

function showEnded(reason) {
  showOver(t("room.ended.title"), ENDED_DETAIL[reason] || "");
}

function showRemoved() {
  showOver(t("room.removed.title"), t("room.removed.detail"));
}

const REFUSED_AT_JOIN = {
  ended: [t("room.ended.title"), t("room.ended.schedule")],
  room_locked: [t("room.refused.locked.title"), t("room.refused.locked.detail")],
  room_full: [t("room.refused.full.title"), t("room.refused.full.detail")],
  banned: [t("room.removed.title"), t("room.removed.detail")],
};

// --- SFU events

function onParticipant(participant, { joined = false } = {}) {
  if (participant.id === roster.self.id) {
    onSelfUpdated(participant);
    return;
  }
  const before = roster.get(participant.id);
  roster.upsert(participant);
  tiles.ensure(participant.id, participant.name);
  tiles.showState(participant.id, participant);
  if (joined) announce(t("room.participant.joined", { name: participant.name }));
  else if (before && before.role !== "moderator" && participant.role === "moderator") {
    announce(t("room.participant.promoted", { name: participant.name }));
  }
}

function onSelfUpdated(participant) {
  const before = roster.self;
  roster.upsert(participant);
  if (before.role !== "moderator" && participant.role === "moderator") {
    announce(t("room.self.promoted"));
    showRole();
  }
  const ownChangePending = performance.now() - ownMicrophoneChangeAt < OWN_CHANGE_WINDOW_MS;
  if (participant.microphone === false && settings.microphone && !ownChangePending) {
    // Turned off by a moderator (the SFU no longer forwards our sound): say so and show it.
    applyMicrophone(false, { tell: false });
    announce(t("room.self.muted"));
  }
}

function onHands(queue) {
  const raised = roster.setHands(queue);
  for (const participant of roster.everyone) {
    tiles.showState(tileKey(participant.id), { hand: queue.includes(participant.id) });
  }
  for (const id of raised) {
    announce(id === roster.self.id ? t("room.hand.self") : t("room.hand.other", { name: roster.nameOf(id) }));
  }
}

function onRoomUpdated(detail) {
  const changed = moderation.update(detail);
  if (changed.locked) {
    announce(detail.locked ? t("room.locked") : t("room.unlocked"));
  }
  if (!roster.isModerator) {
    if (changed.unmuteForbidden) announce(t("room.mute_all.forbidden"));
    if (changed.unmuteAllowed) announce(t("room.mute_all.lifted"));
  }
  showUnmuteRule();
}

const ERROR_MESSAGES = {
  forbidden: t("room.error.forbidden"),
  unmute_forbidden: t("room.microphone.forbidden"),
};

function onError({ code, message }) {
  if (code === "too_long") {
    chat.refused(t("room.chat.too_long"));
  } else if (code === "rate_limited") {
    chat.refused(t("room.chat.rate_limited"));
  } else if (code === "unmute_forbidden") {
    applyMicrophone(false, { tell: false });
    announce(ERROR_MESSAGES[code]);
  } else if (code === "too_many_pins") {
    announce(pins.refusal());
  } else if (ERROR_MESSAGES[code]) {
    announce(ERROR_MESSAGES[code]);
  } else if (REFUSED_AT_JOIN[code]) {
    showOver(...REFUSED_AT_JOIN[code]);
  } else {
    console.warn("sfu error", code, message);
  }
}

// Events of a session that was replaced (lost worker) no longer concern the page.
function listen(source) {
  const session = {
    addEventListener: (type, handler) =>
      source.addEventListener(type, (event) => {
        if (source === currentSession()) handler(event);
      }),
  };
  session.addEventListener("reconnecting", () => reconnect());
  session.addEventListener("joined", (event) => {
    const detail = event.detail;
    roster.setSelfId(detail.participantId);
    for (const participant of detail.participants) onParticipant(participant);
    // The SFU also tells the newcomer the room's state (docs/meetings.md).
    if (detail.me) onSelfUpdated(detail.me);
    if (detail.hands) onHands(detail.hands);
    if (detail.locked !== undefined || detail.muteAll) onRoomUpdated(detail);
    // Normally known before opening the camera (data-room-audio-only); this catches a room whose
    // setting changed since the page was drawn. After a reconnection the camera is left as the
    // participant last set it.
    if (detail.audioOnly && settings.camera && !rejoined) {
      applyCamera(false);
      announce(t("room.audio_only.imposed"));
    }
    setStatus(t("room.joined"));
  });
  session.addEventListener("participant-joined", (event) => onParticipant(event.detail, { joined: true }));
  session.addEventListener("participant-updated", (event) => onParticipant(event.detail));
  session.addEventListener("participant-left", (event) => {
    const name = roster.nameOf(event.detail.id);
    roster.remove(event.detail.id);
    tiles.remove(event.detail.id);
    announce(t("room.participant.left", { name }));
  });
  session.addEventListener("track", (event) => {
    const { participantId, kind, track } = event.detail;
    if (kind === "audio") trackOwners.set(track.id, participantId);
    if (kind === "screen") announce(t("room.participant.screen", { name: roster.nameOf(participantId) }));
    tiles.addTrack(participantId, kind, track);
  });
  session.addEventListener("track-ended", (event) => {
    const { participantId, kind, track } = event.detail;
    trackOwners.delete(track?.id);
    tiles.removeTrack(participantId, kind, track);
  });
  session.addEventListener("hands", (event) => onHands(event.detail.queue || []));
  session.addEventListener("chat", (event) => chat.receive(event.detail));
  session.addEventListener("room-updated", (event) => onRoomUpdated(event.detail));
  session.addEventListener("quality", (event) => quality.update(event.detail));
  session.addEventListener("removed", () => showRemoved());
  session.addEventListener("ended", (event) => showEnded(event.detail?.reason));
  session.addEventListener("error", (event) => onError(event.detail));
  session.addEventListener("closed", (event) => {
    const { code, reason } = event.detail;
    if (code === 4403) showRemoved();
    else if (code === 4410) showEnded(reason);
    else if (code !== 1000 && !event.detail.lost && !reconnecting && !over) {
      setStatus(reason ? t("room.connection.closed", { reason }) : t("room.connection.closed.no_reason"));
    }
  });
}

function currentSession() {
  return session;
}

// --- joining

// failedWorker: the worker a reconnecting page lost; the portal places the room elsewhere once
// that worker is silent (docs/protocol.md, "Reconnection").
async function fetchJoinTicket(failedWorker = null) {
  const response = await fetch(settings.tokenUrl, {
    method: "POST",
    headers: { "X-CSRFToken": settings.csrfToken, Accept: "application/json" },
    credentials: "same-origin",
    body: failedWorker ? new URLSearchParams({ failed_worker: failedWorker }) : undefined,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.message || t("room.error.http", { status: response.status }));
    error.code = body.error;
    error.status = response.status;
    throw error;
  }
  return body;
}

// A ticket, then a session on its worker with the page's local stream.
async function connect(failedWorker = null) {
  const ticket = await fetchJoinTicket(failedWorker);
  if (ticket.role) roster.upsert({ ...roster.self, role: ticket.role });
  showRole();
  const next = new SfuSession({
    signallingUrl: ticket.signalling_url,
    room: ticket.room,
    token: ticket.token,
    iceServers: ticket.ice_servers || [],
  });
  session = next;
  workerId = ticket.worker_id || null;
  for (const part of [roster, moderation, chat, screenShare]) part.attach(next, () => roster.self.id);
  listen(next);
  audioOnly.attach(next);
  pins.attach(next);
  try {
    await next.join(localStream);
  } catch (error) {
    if (session === next) session = null;
    throw error;
  }
  next.setMicrophoneEnabled(settings.microphone);
  next.setCameraEnabled(settings.camera);
  activeSpeaker.start(next.peerConnection, () => trackOwners, (id) => tiles.setActiveSpeaker(id));
}

// The others' tiles and states belonged to the lost session: they come back, under new
// participant ids, as the new session's `joined` and tracks arrive.
function forgetOthers() {
  activeSpeaker.stop();
  trackOwners.clear();
  pins.suspend(); // by name, while the names are known
  quality.reset();
  const hadHands = roster.hands.length > 0;
  roster.setHands([]);
  for (const participant of roster.everyone) {
    if (participant.id === roster.self.id) continue;
    roster.remove(participant.id);
    tiles.remove(participant.id);
  }
  tiles.showState(SELF, { hand: false });
  return hadHands;
}

let reconnecting = false;
let rejoined = false; // a session after the first one (reconnection)

async function reconnect() {
  if (over || reconnecting) return;
  reconnecting = true;
  const lostWorker = workerId;
  session = null;
  rejoined = true;
  const hadHands = forgetOthers();
  setStatus(t("room.reconnecting"));
  announce(t("room.reconnecting"));
  try {
    for (const delay of RECONNECT_DELAYS_MS) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (over) return;
      try {
        await connect(lostWorker);
        setStatus(t("room.joined"));
        announce(hadHands ? t("room.reconnected.hands_lowered") : t("room.reconnected"));
        return;
      } catch (error) {
        if (REFUSED_AT_JOIN[error.code]) {
          showOver(...REFUSED_AT_JOIN[error.code]);
          return;
        }
        if (error.status === 403 || error.status === 404) {
          showOver(t("room.rejoin.forbidden"), error.message);
          return;
        }
        console.warn("reconnection attempt failed", error);
      }
    }
    showOver(
      t("room.reconnection.failed.title"),
      t("room.reconnection.failed.detail"),
    );
  } finally {
    reconnecting = false;
  }
}

async function start() {
  setStatus(t("room.connecting"));
  if (audioOnly.enabled) {
    settings.camera = false;
  } else if (settings.roomAudioOnly && settings.camera) {
    settings.camera = false;
    announce(t("room.audio_only.imposed"));
  }
  showCamera(settings.camera);
  localStream = await openLocalMedia();
  if (over) {
    localStream.getTracks().forEach((t) => t.stop());
    return;
  }
  tiles.ensure(SELF, t("room.self.name", { name: settings.displayName }), { self: true });
  tiles.showLocalCamera(localStream);
  if (cameraTrack()) watchCamera(cameraTrack());
  applyMicrophone(settings.microphone, { tell: false });
  applyCamera(settings.camera);

  await connect();
  if (lobby && settings.role === "moderator") lobby.start();
}

setPressed(microphoneButton, settings.microphone);
setPressed(cameraButton, settings.camera);
start().catch((error) => {
  console.error(error);
  if (REFUSED_AT_JOIN[error.code]) showOver(...REFUSED_AT_JOIN[error.code]);
  else if (!over) setStatus(t("room.join.failed", { error: error.message }));
});

// role="toolbar": the arrow keys, Home and End move between its visible buttons (Tab still
// reaches each one).
document.querySelector(".toolbar").addEventListener("keydown", (event) => {
  const keys = { ArrowRight: 1, ArrowLeft: -1, Home: "first", End: "last" };
  if (!(event.key in keys)) return;
  const buttons = [...event.currentTarget.querySelectorAll("button:not([hidden])")];
  const index = buttons.indexOf(document.activeElement);
  if (index < 0) return;
  event.preventDefault();
  const step = keys[event.key];
  const next = step === "first" ? 0 : step === "last" ? buttons.length - 1 : (index + step + buttons.length) % buttons.length;
  buttons[next].focus();
});
