// Sharing one's screen: the browser's own picker (getDisplayMedia), then the SFU client sends it
// as a third track. Stopping from the browser's own "Arrêter le partage" bar works too.

export class ScreenShare {
  #session = null;
  #stream = null;
  #onChange;

  constructor({ onChange }) {
    this.#onChange = onChange;
  }

  static get supported() {
    return Boolean(navigator.mediaDevices?.getDisplayMedia);
  }

  get active() {
    return this.#stream !== null;
  }

  attach(session) {
    this.#session = session;
  }

  async start() {
    if (this.#stream || !this.#session) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    this.#stream = stream;
    stream.getVideoTracks()[0]?.addEventListener("ended", () => this.stop());
    try {
      await this.#session.startScreenShare(stream);
    } catch (error) {
      this.#release();
      throw error;
    }
    this.#onChange(stream);
  }

  stop() {
    if (!this.#stream) return;
    this.#release();
    try {
      this.#session?.stopScreenShare();
    } catch (error) {
      console.warn("screen share: stop failed", error);
    }
    this.#onChange(null);
  }

  #release() {
    for (const track of this.#stream?.getTracks() || []) track.stop();
    this.#stream = null;
  }
}
