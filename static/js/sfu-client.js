// SFU client for browsers: the client side of docs/protocol.md (meetings: docs/meetings.md).
// Plain ES module, no UI.
//
//   import { SfuSession } from "/static/js/sfu-client.js";
//   const session = new SfuSession({ signallingUrl, room, token, iceServers: [] });
//   session.addEventListener("track", (e) => attach(e.detail.participantId, e.detail.kind, e.detail.stream));
//   const { participantId, participants, me, audioOnly } = await session.join(localStream);
//   session.setMicrophoneEnabled(false);
//   session.sendChat("Bonjour");
//   await session.startScreenShare(await navigator.mediaDevices.getDisplayMedia({ video: true }));
//   session.leave();
//
// Constructor options: signallingUrl (ws:// or wss:// URL from the portal), room (slug),
// token (join token), iceServers (the platform's own STUN/TURN servers; default [] — never a
// third party's), lossGraceMs (how long media may stay "disconnected" before the worker
// counts as lost; default 3000).
//
// A participant object is {id, name, role ("moderator" | "participant"), guest, microphone,
// camera, screen, hand, audio_only} (booleans; microphone/camera true = on, screen true =
// sharing, hand true = raised, audio_only true = "audio seul": receives and sends no video).
//
// Methods:
//   join(localStream) → Promise<{participantId, participants, me, audioOnly, locked, muteAll,
//     hands, pinned}>; rejects with an Error whose `code` is the server's error code if the join is
//     refused (banned, room_locked, room_full, invalid_token, …; "ended" when the scheduled
//     meeting is already over). localStream may lack audio or video (or be null): that side is
//     then not sent (a camera can still be given later with setCameraTrack). audioOnly: the room
//     asks participants to start without their camera.
//   setMicrophoneEnabled(bool), setCameraEnabled(bool): stop/resume sending (track.enabled)
//     and tell the others. Turning the microphone on may be refused (`error` unmute_forbidden,
//     the track is disabled again) while a moderator's mute-all forbids it.
//   setCameraTrack(track | null) → Promise: the camera track to send from now on (a camera
//     opened after joining, e.g. when leaving audio-only), or null to send no video. No
//     renegotiation: the camera m-line is always answered sendonly, with or without a track,
//     and the track is swapped with replaceTrack. Stopping the old track is the caller's job.
//   setAudioOnly(bool): audio-only mode (docs/protocol.md): the camera track is detached
//     (setCameraTrack(null): nothing is sent, not even black frames; the caller stops the
//     camera) and the SFU forwards no video to us; false brings video back (no camera until
//     setCameraTrack(track) and setCameraEnabled(true)).
//   sendChat(text): to everyone (≤ 2000 characters, else `error` too_long).
//   raiseHand(raised = true): raise or lower one's own hand.
//   lowerHand(participantId): lower someone's hand (moderators; anyone for their own).
//   startScreenShare(stream) → Promise: share the stream's video track (getDisplayMedia);
//     sharing stops by itself when the browser's "stop sharing" ends the track.
//   stopScreenShare(): stop sharing.
//   pin(participantId, pinned = true): keep receiving that person's video when the SFU gives up
//     video for us (congestion, docs/congestion.md); at most three (else `error` too_many_pins).
//     The server answers `pins`.
//   Moderators only (others get a non-fatal `error` forbidden):
//     muteParticipant(participantId), muteAll(allowUnmute), allowUnmute(), remove(participantId),
//     lock(locked), promote(participantId), end(), pinForAll(participantId, pinned = true) (at
//     most three pinned for everyone; the room's list comes back in `room-updated`).
//   leave(): hang up.
//   peerConnection (getter): the RTCPeerConnection, e.g. for getStats().
//   participantId (getter): yours.
//   me (getter): your own participant object, as the server last described it.
//   participants (getter): Map id → participant object of the others.
//   hands (getter): participant ids with a raised hand, in raising order.
//   roomState (getter): {locked, muteAll: {active, allowUnmute}, pinned: [participant ids pinned
//     for everyone]}.
//   pins (getter): the participant ids we pinned, as the server last confirmed them.
//   videoConstraints (getter): what the SFU last asked our camera to send ({max_bitrate,
//     scale_resolution_down_by, max_framerate, paused}), or null.
//
// Congestion (docs/congestion.md): a `video-constraints` message is applied to the camera's
// sender (never the screen share's) with RTCRtpSender.setParameters on encodings[0], and applied
// again whenever the camera track or its sender changes (setCameraTrack, a new offer);
// `paused: true` (nobody receives our camera in a crowded room) stops its encoding altogether
// (encodings[0].active = false) until the SFU says otherwise. It
// belongs to this session: the worker that asked it is the one that lifts it, so a new session
// (a reconnection) starts unconstrained and is told again by its own worker if need be.
//
// Events (CustomEvent, data in `detail`):
//   joined              {participantId, participants: [participant], me, audioOnly, locked,
//                        muteAll, hands, pinned (participant ids pinned for everyone)}
//   participant-joined  participant
//   participant-left    {id}
//   participant-updated participant (also about yourself: detail.id === session.participantId;
//                        a moderator muting you turns your microphone track off)
//   track               {participantId, kind: "audio" | "video" | "screen", track, stream}
//                        (audio and camera share one MediaStream per participant; a screen
//                        share has its own)
//   track-ended         {participantId, kind, track, stream}
//   chat                {from (participant id), name, text, at (unix seconds)}
//   hands               {queue: [participant ids in raising order]}
//   room-updated        {locked, muteAll: {active, allowUnmute}, pinned: [participant ids]}
//   pins                {pinned: [participant ids]}  (the server's answer to pin())
//   quality             the server's `quality` message: {room: {step, reason}, you: {step,
//                        reason, video_from: [participant ids] | null}, moderation?: {congested,
//                        degraded, audio_only, publishers_lowered}} (docs/protocol.md)
//   video-constraints   {max_bitrate, scale_resolution_down_by, max_framerate, paused}
//                        (all null and paused false: lifted),
//                        once applied (or failed to apply: console.warn) to the camera's sender
//   removed             {by}          (a moderator removed you; `closed` follows, code 4403)
//   ended               {by, reason}  (reason "moderator", "schedule" or "max_duration";
//                                      `closed` follows, code 4410; by is null unless moderator)
//   error               {code, message, reason?}  (the server's error message; forbidden,
//                        unmute_forbidden, too_long, unknown_participant, too_many_pins keep the
//                        session open, any other code is followed by `closed`)
//   reconnecting        {code, reason}  (the worker was lost after joining: the signalling
//                        closed with a code that is not final — 1006 when the worker died, 1000
//                        we did not ask for, 4503 draining, 1011 — or media failed, reason
//                        "media_failed". `closed` follows with lost: true. The session is over:
//                        ask the portal for a fresh ticket naming the lost worker and join a new
//                        SfuSession with the same local stream (docs/protocol.md, "Reconnection"))
//   closed              {code, reason, lost}  (signalling closed; session over)
//
// Also exported: applyVideoConstraints(sender, constraints), the setParameters step on its own.

const ANSWER_GATHERING_TIMEOUT_MS = 5000;
// Close codes that end a session for good: anything else after joining is a lost worker.
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4408, 4409, 4410, 4423, 4429]);

export class SfuSession extends EventTarget {
  #signallingUrl;
  #room;
  #token;
  #pc;
  #ws = null;
  #localStream = null;
  #camera = null; // the camera track being sent (null: none)
  #publish = {}; // the last offer's `publish`: kind → mid of the m-line we send it on
  #participantId = null;
  #participants = new Map();
  #remoteTracks = new Map(); // mid → {participantId, kind, track}
  #streams = new Map(); // participantId → MediaStream
  #queue = Promise.resolve(); // offers are handled one at a time, in order
  #joinPromise = null;
  #closed = false;
  #me = null;
  #hands = [];
  #roomState = { locked: false, muteAll: { active: false, allowUnmute: true }, pinned: [] };
  #pins = []; // the participants we pinned, as the server last said
  #videoConstraints = null; // the SFU's last `video-constraints` (null: none, or lifted)
  #constraining = Promise.resolve(); // setParameters calls, one at a time
  #screenTrack = null; // the display track being shared
  #screenMid = null; // mid of the transceiver it is attached to
  #leaving = false; // leave() was called: a close is not a loss
  #lossGraceMs;
  #lossTimer = null;

  constructor({ signallingUrl, room, token, iceServers = [], lossGraceMs = 3000 }) {
    super();
    this.#signallingUrl = signallingUrl;
    this.#room = room;
    this.#token = token;
    this.#lossGraceMs = lossGraceMs;
    this.#pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.#pc.addEventListener("connectionstatechange", () => this.#watchMedia());
  }

  get peerConnection() {
    return this.#pc;
  }

  get participantId() {
    return this.#participantId;
  }

  get participants() {
    return new Map(this.#participants);
  }

  get me() {
    return this.#me;
  }

  get hands() {
    return [...this.#hands];
  }

  get roomState() {
    return { locked: this.#roomState.locked, muteAll: { ...this.#roomState.muteAll }, pinned: [...this.#roomState.pinned] };
  }

  get pins() {
    return [...this.#pins];
  }

  get videoConstraints() {
    return this.#videoConstraints ? { ...this.#videoConstraints } : null;
  }

  join(localStream) {
    if (this.#joinPromise) return this.#joinPromise;
    this.#localStream = localStream || null;
    this.#camera = this.#localStream?.getVideoTracks().find((t) => t.readyState === "live") || null;
    this.#joinPromise = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#signallingUrl);
      this.#ws = ws;
      let joined = false;
      let lastError = null;
      ws.addEventListener("open", () => {
        this.#send({ type: "join", room: this.#room, token: this.#token });
      });
      ws.addEventListener("message", (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (message.type === "joined") {
          joined = true;
          this.#handle(message);
          resolve(this.#joinedDetail(message));
          return;
        } else if (message.type === "ended" && !joined) {
          lastError = { code: "ended", message: `meeting ended (${message.reason})` };
        } else if (message.type === "error") {
          lastError = message;
        }
        this.#handle(message);
      });
      ws.addEventListener("close", (event) => {
        if (!joined) {
          const error = new Error(lastError ? lastError.message : `connection closed (${event.code})`);
          error.code = lastError ? lastError.code : "closed";
          error.reason = lastError ? lastError.reason : undefined;
          reject(error);
        } else if (!this.#leaving && !FINAL_CLOSE_CODES.has(event.code)) {
          this.#lose(event.code, event.reason);
          return;
        }
        this.#teardown(event.code, event.reason);
      });
    });
    return this.#joinPromise;
  }

  setMicrophoneEnabled(enabled) {
    this.#setEnabled("audio", "microphone", enabled);
  }

  setCameraEnabled(enabled) {
    this.#setEnabled("video", "camera", enabled);
  }

  setCameraTrack(track) {
    this.#camera = track || null;
    // Before the first offer there is no camera m-line yet: the answer will attach the track.
    const transceiver = this.#publishTransceiver("video");
    if (!transceiver || this.#closed || transceiver.sender.track === this.#camera) return Promise.resolve();
    return transceiver.sender
      .replaceTrack(this.#camera)
      .then(() => this.#constrainCamera({ onlyIfAsked: true }))
      .catch((error) => {
        console.warn("sfu-client: could not change the camera track", error);
      });
  }

  setAudioOnly(enabled) {
    // Detached rather than disabled: a disabled track still sends (black) frames, and the SFU
    // would only drop them.
    if (enabled) this.setCameraTrack(null);
    this.#send({ type: "audio-only", enabled: Boolean(enabled) });
  }

  sendChat(text) {
    this.#send({ type: "chat", text: String(text) });
  }

  raiseHand(raised = true) {
    this.#send({ type: "hand", raised: Boolean(raised) });
  }

  lowerHand(participantId) {
    this.#send({ type: "lower-hand", participant_id: participantId });
  }

  async startScreenShare(stream) {
    const track = stream && stream.getVideoTracks()[0];
    if (!track) throw new Error("no video track to share");
    if (this.#screenTrack) this.stopScreenShare();
    this.#screenTrack = track;
    // The browser's own "stop sharing" button ends the track.
    track.addEventListener("ended", () => {
      if (this.#screenTrack === track) this.stopScreenShare();
    });
    // The server answers with an offer whose `publish.screen` is the slot for this track.
    this.#send({ type: "publish-screen" });
  }

  stopScreenShare() {
    const track = this.#screenTrack;
    if (!track) return;
    this.#screenTrack = null;
    this.#send({ type: "unpublish-screen" });
    track.stop();
    const transceiver = this.#pc.getTransceivers().find((t) => t.mid === this.#screenMid);
    if (transceiver) transceiver.sender.replaceTrack(null).catch(() => {});
  }

  muteParticipant(participantId) {
    this.#send({ type: "mute-participant", participant_id: participantId });
  }

  muteAll(allowUnmute) {
    this.#send({ type: "mute-all", allow_unmute: Boolean(allowUnmute) });
  }

  allowUnmute() {
    this.#send({ type: "allow-unmute" });
  }

  remove(participantId) {
    this.#send({ type: "remove", participant_id: participantId });
  }

  lock(locked) {
    this.#send({ type: "lock", locked: Boolean(locked) });
  }

  promote(participantId) {
    this.#send({ type: "promote", participant_id: participantId });
  }

  pin(participantId, pinned = true) {
    this.#send({ type: "pin", participant_id: participantId, pinned: Boolean(pinned) });
  }

  pinForAll(participantId, pinned = true) {
    this.#send({ type: "pin-for-all", participant_id: participantId, pinned: Boolean(pinned) });
  }

  end() {
    this.#send({ type: "end" });
  }

  leave() {
    this.#leaving = true;
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) {
      this.#send({ type: "leave" });
    }
    if (this.#ws) this.#ws.close(1000, "left");
    this.#teardown(1000, "left");
  }

  // Media "disconnected" may come back by itself (ICE consent); "failed", or "disconnected" for
  // longer than lossGraceMs, means the worker is gone even if its WebSocket looks open.
  #watchMedia() {
    const state = this.#pc.connectionState;
    if (state === "failed") {
      this.#lose(1006, "media_failed");
    } else if (state === "disconnected") {
      if (this.#lossTimer === null) {
        this.#lossTimer = setTimeout(() => {
          this.#lossTimer = null;
          if (this.#pc.connectionState === "disconnected") this.#lose(1006, "media_failed");
        }, this.#lossGraceMs);
      }
    } else {
      clearTimeout(this.#lossTimer);
      this.#lossTimer = null;
    }
  }

  #lose(code, reason) {
    if (this.#closed || this.#leaving || this.#participantId === null) return;
    this.#emit("reconnecting", { code, reason });
    if (this.#ws && this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000, "reconnecting");
    this.#teardown(code, reason, { lost: true });
  }

  #setEnabled(kind, field, enabled) {
    this.#enableLocal(kind, enabled);
    this.#send({ type: "mute", [field]: Boolean(enabled) });
  }

  #enableLocal(kind, enabled) {
    if (kind === "video") {
      if (this.#camera) this.#camera.enabled = Boolean(enabled);
      return;
    }
    for (const track of this.#localStream?.getAudioTracks() || []) track.enabled = Boolean(enabled);
  }

  #publishTransceiver(kind) {
    const mid = this.#publish[kind];
    if (mid === undefined || mid === null) return null;
    return this.#pc.getTransceivers().find((t) => t.mid === mid) || null;
  }

  #joinedDetail(message) {
    return {
      participantId: message.participant_id,
      participants: message.participants,
      me: message.participant || null,
      audioOnly: Boolean(message.audio_only),
      locked: Boolean(message.locked),
      muteAll: this.#muteAllDetail(message.mute_all),
      hands: message.hands || [],
      pinned: [...(message.pinned || [])],
    };
  }

  #muteAllDetail(muteAll) {
    return { active: Boolean(muteAll && muteAll.active), allowUnmute: !muteAll || muteAll.allow_unmute !== false };
  }

  #send(message) {
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.send(JSON.stringify(message));
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #handle(message) {
    switch (message.type) {
      case "joined": {
        this.#participantId = message.participant_id;
        for (const participant of message.participants) {
          this.#participants.set(participant.id, participant);
        }
        const detail = this.#joinedDetail(message);
        this.#me = detail.me;
        this.#hands = [...detail.hands];
        this.#roomState = { locked: detail.locked, muteAll: detail.muteAll, pinned: detail.pinned };
        // Arriving during a mute-all: the microphone starts off.
        if (this.#me && this.#me.microphone === false) this.#enableLocal("audio", false);
        this.#emit("joined", detail);
        break;
      }
      case "offer":
        this.#queue = this.#queue
          .then(() => this.#answer(message))
          .catch((error) => {
            console.error("sfu-client: could not answer offer", error);
            this.#ws?.close(4400, "answer failed");
          });
        break;
      case "participant-joined":
        this.#participants.set(message.participant.id, message.participant);
        this.#emit("participant-joined", message.participant);
        break;
      case "participant-updated":
        if (message.participant.id === this.#participantId) {
          // A moderator may have muted us: stop sending too (the SFU drops our audio anyway).
          if (message.participant.microphone === false) this.#enableLocal("audio", false);
          this.#me = message.participant;
        } else {
          this.#participants.set(message.participant.id, message.participant);
        }
        this.#emit("participant-updated", message.participant);
        break;
      case "chat":
        this.#emit("chat", { from: message.from, name: message.name, text: message.text, at: message.at });
        break;
      case "hands":
        this.#hands = [...(message.queue || [])];
        this.#emit("hands", { queue: [...this.#hands] });
        break;
      case "room-updated":
        this.#roomState = {
          locked: Boolean(message.locked),
          muteAll: this.#muteAllDetail(message.mute_all),
          pinned: [...(message.pinned || [])],
        };
        this.#emit("room-updated", this.roomState);
        break;
      case "pins":
        this.#pins = [...(message.pinned || [])];
        this.#emit("pins", { pinned: this.pins });
        break;
      case "quality":
        this.#emit("quality", { room: message.room, you: message.you, moderation: message.moderation });
        break;
      case "video-constraints": {
        const constraints = {
          max_bitrate: message.max_bitrate ?? null,
          scale_resolution_down_by: message.scale_resolution_down_by ?? null,
          max_framerate: message.max_framerate ?? null,
          paused: message.paused === true,
        };
        const lifted =
          !constraints.paused &&
          [constraints.max_bitrate, constraints.scale_resolution_down_by, constraints.max_framerate].every(
            (value) => value === null,
          );
        this.#videoConstraints = lifted ? null : constraints;
        this.#constrainCamera().then(() => this.#emit("video-constraints", { ...constraints }));
        break;
      }
      case "removed":
        this.#emit("removed", { by: message.by });
        break;
      case "ended":
        this.#emit("ended", { by: message.by ?? null, reason: message.reason });
        break;
      case "participant-left":
        this.#participants.delete(message.participant_id);
        this.#emit("participant-left", { id: message.participant_id });
        break;
      case "error":
        if (message.code === "unmute_forbidden") this.#enableLocal("audio", false);
        this.#emit("error", { code: message.code, message: message.message, reason: message.reason });
        break;
      default:
        break; // unknown server messages are ignored (protocol.md)
    }
  }

  async #answer(offer) {
    if (this.#closed) return;
    const pc = this.#pc;
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    const byMid = new Map(pc.getTransceivers().map((t) => [t.mid, t]));
    const publish = offer.publish || {};
    if (this.#screenMid !== null && publish.screen !== this.#screenMid) {
      // The screen slot we used was withdrawn (unpublish-screen): it is inactive now.
      const old = byMid.get(this.#screenMid);
      if (old) {
        if (old.sender.track) await old.sender.replaceTrack(null);
        old.direction = "inactive";
      }
      this.#screenMid = null;
    }
    if (publish.screen !== undefined && this.#screenTrack) this.#screenMid = publish.screen;
    this.#publish = { ...publish };
    for (const [kind, mid] of Object.entries(publish)) {
      const transceiver = byMid.get(mid);
      if (!transceiver) continue;
      const local = this.#localTrack(kind);
      if (transceiver.sender.track !== local) await transceiver.sender.replaceTrack(local);
      // The camera m-line stays sendonly even without a track (audio-only, camera off): a camera
      // opened later is then sent with replaceTrack alone — only the server may offer, so a
      // client cannot renegotiate an m-line it had answered inactive.
      transceiver.direction = local || kind === "video" ? "sendonly" : "inactive";
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await this.#gatheringComplete();
    this.#send({ type: "answer", revision: offer.revision, sdp: pc.localDescription.sdp });
    this.#updateRemoteTracks(offer.tracks || {}, byMid);
    // The camera's sender may be new (first offer) or have a new track: the SFU's constraints
    // hold whatever the sender.
    this.#constrainCamera({ onlyIfAsked: true });
  }

  // The SFU's last constraints on the camera's sender, never the screen share's. Never fails:
  // a browser that cannot apply them keeps sending as it did (the SFU's REMB ceiling still
  // holds). onlyIfAsked: nothing to do without constraints (a fresh sender has none).
  #constrainCamera({ onlyIfAsked = false } = {}) {
    if (onlyIfAsked && !this.#videoConstraints) return this.#constraining;
    this.#constraining = this.#constraining
      .then(async () => {
        const transceiver = this.#publishTransceiver("video");
        if (!transceiver || this.#closed) return;
        await applyVideoConstraints(transceiver.sender, this.#videoConstraints);
      })
      .catch((error) => console.warn("sfu-client: could not apply the video constraints", error));
    return this.#constraining;
  }

  #localTrack(kind) {
    if (kind === "screen") return this.#screenTrack;
    if (kind === "video") return this.#camera;
    return this.#localStream?.getAudioTracks()[0] || null;
  }

  #gatheringComplete() {
    const pc = this.#pc;
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        pc.removeEventListener("icegatheringstatechange", check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === "complete") done();
      };
      const timer = setTimeout(done, ANSWER_GATHERING_TIMEOUT_MS);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  #updateRemoteTracks(listed, byMid) {
    for (const [mid, info] of [...this.#remoteTracks]) {
      if (!(mid in listed)) this.#endRemoteTrack(mid, info);
    }
    for (const [mid, info] of Object.entries(listed)) {
      const transceiver = byMid.get(mid);
      if (this.#remoteTracks.has(mid) || !transceiver) continue;
      const track = transceiver.receiver.track;
      const entry = { participantId: info.participant_id, kind: info.kind, track };
      this.#remoteTracks.set(mid, entry);
      const key = this.#streamKey(entry);
      let stream = this.#streams.get(key);
      if (!stream) {
        stream = new MediaStream();
        this.#streams.set(key, stream);
      }
      stream.addTrack(track);
      this.#emit("track", { ...entry, stream });
    }
  }

  #endRemoteTrack(mid, entry) {
    this.#remoteTracks.delete(mid);
    const key = this.#streamKey(entry);
    const stream = this.#streams.get(key);
    if (stream) {
      stream.removeTrack(entry.track);
      if (stream.getTracks().length === 0) this.#streams.delete(key);
    }
    this.#emit("track-ended", { ...entry, stream });
  }

  #streamKey(entry) {
    // A screen share is its own stream, so that the UI can show it apart from the camera.
    return entry.kind === "screen" ? `${entry.participantId}\u0000screen` : entry.participantId;
  }

  #teardown(code, reason, { lost = false } = {}) {
    clearTimeout(this.#lossTimer);
    this.#lossTimer = null;
    if (this.#screenTrack) {
      this.#screenTrack.stop();
      this.#screenTrack = null;
    }
    if (this.#closed) return;
    this.#closed = true;
    for (const [mid, entry] of [...this.#remoteTracks]) this.#endRemoteTrack(mid, entry);
    try {
      this.#pc.close();
    } catch {
      // already closed
    }
    this.#emit("closed", { code, reason, lost });
  }
}

// What the SFU asks a camera to send (its `video-constraints` message: max_bitrate in bit/s,
// scale_resolution_down_by ≥ 1, max_framerate in frames/s; null or missing: no limit; paused
// true: send nothing, the encoding inactive), applied to the sender's first encoding with
// setParameters. Returns the encoding as set, or null when
// the sender has no encoding yet (not negotiated: apply again once it is). Rejects as
// setParameters does.
export async function applyVideoConstraints(sender, constraints) {
  const parameters = sender.getParameters();
  const encoding = parameters.encodings?.[0];
  if (!encoding) return null;
  const wanted = {
    maxBitrate: limit(constraints?.max_bitrate, 1),
    scaleResolutionDownBy: limit(constraints?.scale_resolution_down_by, 1),
    maxFramerate: limit(constraints?.max_framerate, 1),
  };
  for (const [field, value] of Object.entries(wanted)) {
    if (value === null) delete encoding[field];
    else encoding[field] = field === "maxBitrate" ? Math.round(value) : value;
  }
  encoding.active = constraints?.paused !== true;
  await sender.setParameters(parameters);
  return { ...encoding };
}

// A finite number at least `least`, or null (no limit): a malformed value lifts its limit
// rather than failing the others.
function limit(value, least) {
  return typeof value === "number" && Number.isFinite(value) && value >= least ? value : null;
}
