// Who speaks: every 500 ms, the audio level the browser reports for each incoming audio track
// (RTCRtpReceiver.getSynchronizationSources). The speaker view features the last one heard.

const INTERVAL_MS = 500;
const SPEAKING_LEVEL = 0.05; // 0..1, about -26 dBov

export class ActiveSpeaker {
  #timer = null;

  // owners: () → Map track id → participant id; onSpeaker(participantId)
  start(peerConnection, owners, onSpeaker) {
    this.stop();
    this.#timer = setInterval(() => {
      let loudest = null;
      let loudestLevel = SPEAKING_LEVEL;
      const trackOwners = owners();
      for (const receiver of peerConnection.getReceivers()) {
        if (receiver.track?.kind !== "audio" || !trackOwners.has(receiver.track.id)) continue;
        const level = Math.max(0, ...receiver.getSynchronizationSources().map((source) => source.audioLevel ?? 0));
        if (level > loudestLevel) {
          loudest = trackOwners.get(receiver.track.id);
          loudestLevel = level;
        }
      }
      if (loudest) onSpeaker(loudest);
    }, INTERVAL_MS);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
  }
}
