// SFU client for browsers: the client side of docs/protocol.md. Plain ES module, no UI.
//
//   import { SfuSession } from "/static/js/sfu-client.js";
//   const session = new SfuSession({ signallingUrl, room, token, iceServers: [] });
//   session.addEventListener("track", (e) => attach(e.detail.participantId, e.detail.stream));
//   const { participantId, participants } = await session.join(localStream);
//   session.setMicrophoneEnabled(false);
//   session.leave();
//
// Constructor options: signallingUrl (ws:// or wss:// URL from the portal), room (slug),
// token (join token), iceServers (the platform's own STUN/TURN servers; default [] — never a
// third party's).
//
// Methods:
//   join(localStream) → Promise<{participantId, participants}>; rejects with an Error whose
//     `code` is the server's error code if the join is refused. localStream may lack audio or
//     video (or be null): that side is then not sent.
//   setMicrophoneEnabled(bool), setCameraEnabled(bool): stop/resume sending (track.enabled)
//     and tell the others.
//   leave(): hang up.
//   peerConnection (getter): the RTCPeerConnection, e.g. for getStats().
//   participants (getter): Map id → {id, name, role, microphone, camera} of the others.
//
// Events (CustomEvent, data in `detail`):
//   joined              {participantId, participants: [{id, name, role, microphone, camera}]}
//   participant-joined  {id, name, role, microphone, camera}
//   participant-left    {id}
//   participant-updated {id, name, role, microphone, camera}
//   track               {participantId, kind, track, stream}   (one MediaStream per participant)
//   track-ended         {participantId, kind, track, stream}
//   error               {code, message, reason?}               (the server's error message)
//   closed              {code, reason}                         (signalling closed; session over)

const ANSWER_GATHERING_TIMEOUT_MS = 5000;

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

  constructor({ signallingUrl, room, token, iceServers = [] }) {
    super();
    this.#signallingUrl = signallingUrl;
    this.#room = room;
    this.#token = token;
    this.#pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
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
          resolve({ participantId: message.participant_id, participants: message.participants });
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

  leave() {
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) {
      this.#send({ type: "leave" });
    }
    if (this.#ws) this.#ws.close(1000, "left");
    this.#teardown(1000, "left");
  }

  #setEnabled(kind, field, enabled) {
    if (this.#localStream) {
      const tracks = kind === "audio" ? this.#localStream.getAudioTracks() : this.#localStream.getVideoTracks();
      for (const track of tracks) track.enabled = Boolean(enabled);
    }
    this.#send({ type: "mute", [field]: Boolean(enabled) });
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
      case "joined":
        this.#participantId = message.participant_id;
        for (const participant of message.participants) {
          this.#participants.set(participant.id, participant);
        }
        this.#emit("joined", { participantId: message.participant_id, participants: message.participants });
        break;
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
        this.#participants.set(message.participant.id, message.participant);
        this.#emit("participant-updated", message.participant);
        break;
      case "participant-left":
        this.#participants.delete(message.participant_id);
        this.#emit("participant-left", { id: message.participant_id });
        break;
      case "error":
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
    for (const [kind, mid] of Object.entries(offer.publish || {})) {
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
      let stream = this.#streams.get(entry.participantId);
      if (!stream) {
        stream = new MediaStream();
        this.#streams.set(entry.participantId, stream);
      }
      stream.addTrack(track);
      this.#emit("track", { ...entry, stream });
    }
  }

  #endRemoteTrack(mid, entry) {
    this.#remoteTracks.delete(mid);
    const stream = this.#streams.get(entry.participantId);
    if (stream) {
      stream.removeTrack(entry.track);
      if (stream.getTracks().length === 0) this.#streams.delete(entry.participantId);
    }
    this.#emit("track-ended", { ...entry, stream });
  }

  #teardown(code, reason) {
    if (this.#closed) return;
    this.#closed = true;
    for (const [mid, entry] of [...this.#remoteTracks]) this.#endRemoteTrack(mid, entry);
    try {
      this.#pc.close();
    } catch {
      // already closed
    }
    this.#emit("closed", { code, reason });
  }
}
