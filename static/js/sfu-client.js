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
//     hands}>; rejects with an Error whose `code` is the server's error code if the join is
//     refused (banned, room_locked, room_full, invalid_token, …; "ended" when the scheduled
//     meeting is already over). localStream may lack audio or video (or be null): that side is
//     then not sent. audioOnly: the room asks participants to start without their camera.
//   setMicrophoneEnabled(bool), setCameraEnabled(bool): stop/resume sending (track.enabled)
//     and tell the others. Turning the microphone on may be refused (`error` unmute_forbidden,
//     the track is disabled again) while a moderator's mute-all forbids it.
//   setAudioOnly(bool): audio-only mode (docs/protocol.md): the camera track stops being sent
//     (track.enabled) and the SFU forwards no video to us; false brings video back (the camera
//     stays off until setCameraEnabled(true)).
//   sendChat(text): to everyone (≤ 2000 characters, else `error` too_long).
//   raiseHand(raised = true): raise or lower one's own hand.
//   lowerHand(participantId): lower someone's hand (moderators; anyone for their own).
//   startScreenShare(stream) → Promise: share the stream's video track (getDisplayMedia);
//     sharing stops by itself when the browser's "stop sharing" ends the track.
//   stopScreenShare(): stop sharing.
//   Moderators only (others get a non-fatal `error` forbidden):
//     muteParticipant(participantId), muteAll(allowUnmute), allowUnmute(), remove(participantId),
//     lock(locked), promote(participantId), end().
//   leave(): hang up.
//   peerConnection (getter): the RTCPeerConnection, e.g. for getStats().
//   participantId (getter): yours.
//   me (getter): your own participant object, as the server last described it.
//   participants (getter): Map id → participant object of the others.
//   hands (getter): participant ids with a raised hand, in raising order.
//   roomState (getter): {locked, muteAll: {active, allowUnmute}}.
//
// Events (CustomEvent, data in `detail`):
//   joined              {participantId, participants: [participant], me, audioOnly, locked,
//                        muteAll, hands}
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
//   room-updated        {locked, muteAll: {active, allowUnmute}}
//   removed             {by}          (a moderator removed you; `closed` follows, code 4403)
//   ended               {by, reason}  (reason "moderator", "schedule" or "max_duration";
//                                      `closed` follows, code 4410; by is null unless moderator)
//   error               {code, message, reason?}  (the server's error message; forbidden,
//                        unmute_forbidden, too_long, unknown_participant keep the session open,
//                        any other code is followed by `closed`)
//   reconnecting        {code, reason}  (the worker was lost after joining: the signalling
//                        closed with a code that is not final — 1006 when the worker died, 1000
//                        we did not ask for, 4503 draining, 1011 — or media failed, reason
//                        "media_failed". `closed` follows with lost: true. The session is over:
//                        ask the portal for a fresh ticket naming the lost worker and join a new
//                        SfuSession with the same local stream (docs/protocol.md, "Reconnection"))
//   closed              {code, reason, lost}  (signalling closed; session over)

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
  #participantId = null;
  #participants = new Map();
  #remoteTracks = new Map(); // mid → {participantId, kind, track}
  #streams = new Map(); // participantId → MediaStream
  #queue = Promise.resolve(); // offers are handled one at a time, in order
  #joinPromise = null;
  #closed = false;
  #me = null;
  #hands = [];
  #roomState = { locked: false, muteAll: { active: false, allowUnmute: true } };
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
    return { locked: this.#roomState.locked, muteAll: { ...this.#roomState.muteAll } };
  }

  join(localStream) {
    if (this.#joinPromise) return this.#joinPromise;
    this.#localStream = localStream || null;
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

  setAudioOnly(enabled) {
    if (enabled) this.#enableLocal("video", false);
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
    if (!this.#localStream) return;
    const tracks = kind === "audio" ? this.#localStream.getAudioTracks() : this.#localStream.getVideoTracks();
    for (const track of tracks) track.enabled = Boolean(enabled);
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
        this.#roomState = { locked: detail.locked, muteAll: detail.muteAll };
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
        this.#roomState = { locked: Boolean(message.locked), muteAll: this.#muteAllDetail(message.mute_all) };
        this.#emit("room-updated", this.roomState);
        break;
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
    for (const [kind, mid] of Object.entries(publish)) {
      const transceiver = byMid.get(mid);
      if (!transceiver) continue;
      const local = this.#localTrack(kind);
      if (local) {
        if (transceiver.sender.track !== local) await transceiver.sender.replaceTrack(local);
        transceiver.direction = "sendonly";
      } else {
        transceiver.direction = "inactive";
      }
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await this.#gatheringComplete();
    this.#send({ type: "answer", revision: offer.revision, sdp: pc.localDescription.sdp });
    this.#updateRemoteTracks(offer.tracks || {}, byMid);
  }

  #localTrack(kind) {
    if (kind === "screen") return this.#screenTrack;
    if (!this.#localStream) return null;
    const tracks = kind === "audio" ? this.#localStream.getAudioTracks() : this.#localStream.getVideoTracks();
    return tracks[0] || null;
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
