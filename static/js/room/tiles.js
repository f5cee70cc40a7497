// The video tiles: one per participant (their camera and sound) plus one per screen share
// ("Écran de …"), shown as a mosaic or, in speaker view, as one big tile (a screen share if
// any, else the participant chosen with "Afficher en grand", else whoever spoke last) above a
// strip of small ones.
//
// Each other participant's tile also has an "Épingler" toggle (onPin(participantId): keep their
// video when the SFU gives up video for us, room/pins.js), a "épinglé pour tous" badge (a
// moderator's pin) and a "vidéo suspendue" badge while the SFU forwards us none of their video
// (congestion, room/quality.js).

import { t } from "../i18n.js";
import { element, setPressed } from "./dom.js";

const SELF = "self";

export class Tiles {
  #container;
  #view = "grid";
  #pinned = null; // tile key chosen by the user
  #activeSpeaker = null; // participant id
  #tracks = new Map(); // participant id → {audio, video, screen}
  #screens = []; // participant ids sharing, most recent last
  #onPin;
  #pins = { mine: new Set(), room: new Set() }; // tile keys (participant ids, or SELF)
  #paused = null; // (participantId) → true when the SFU forwards none of their video; null: none

  constructor(container, { onPin = () => {} } = {}) {
    this.#container = container;
    this.#onPin = onPin;
  }

  get view() {
    return this.#view;
  }

  // --- participants

  ensure(participantId, name, { self = false } = {}) {
    let tile = this.#tile(participantId, "camera");
    if (!tile) {
      tile = this.#create(participantId, "camera", name, { self });
      if (self) {
        tile.classList.add("tile-self");
        tile.querySelector("video").muted = true;
      }
    }
    this.rename(participantId, name);
    return tile;
  }

  rename(participantId, name) {
    const tile = this.#tile(participantId, "camera");
    if (tile) {
      tile.dataset.name = name;
      tile.querySelector(".tile-name").textContent = name;
      tile.querySelector(".tile-pin").setAttribute("aria-label", t("tiles.show_large.label", { name }));
      // The same name whether pinned or not: aria-pressed says which (and ✓ on screen).
      tile.querySelector(".tile-keep")?.setAttribute("aria-label", t("tiles.keep.label", { name }));
    }
    const screen = this.#tile(participantId, "screen");
    if (screen) this.#labelScreen(screen, participantId);
  }

  remove(participantId) {
    for (const tile of this.#tilesOf(participantId)) tile.remove();
    this.#tracks.delete(participantId);
    this.#screens = this.#screens.filter((id) => id !== participantId);
    if (this.#pinned?.startsWith(`${participantId}|`)) this.#pinned = null;
    if (this.#activeSpeaker === participantId) this.#activeSpeaker = null;
    this.#layout();
  }

  nameOf(participantId) {
    return this.#tile(participantId, "camera")?.dataset.name ?? "";
  }

  showState(participantId, { microphone, camera, hand }) {
    const tile = this.#tile(participantId, "camera");
    if (!tile) return;
    if (microphone !== undefined) tile.querySelector(".tile-muted").hidden = microphone !== false;
    if (camera !== undefined) tile.classList.toggle("tile-camera-off", camera === false);
    if (hand !== undefined) tile.querySelector(".tile-hand").hidden = !hand;
  }

  // Who is pinned: by us (mine) and for everyone (room), as sets of participant ids (SELF for
  // oneself).
  showPins({ mine, room }) {
    this.#pins = { mine: new Set(mine), room: new Set(room) };
    for (const tile of this.#container.querySelectorAll(".tile")) this.#showMarks(tile);
  }

  // paused: (participantId) → true when the SFU forwards us none of their video, or null.
  showPaused(paused) {
    this.#paused = paused;
    for (const tile of this.#container.querySelectorAll(".tile")) this.#showMarks(tile);
  }

  #showMarks(tile) {
    const id = tile.dataset.participantId;
    const keep = tile.querySelector(".tile-keep");
    if (keep) setPressed(keep, this.#pins.mine.has(id));
    const forAll = tile.querySelector(".tile-pinned-all");
    if (forAll) forAll.hidden = !this.#pins.room.has(id);
    const paused = id !== SELF && this.#paused !== null && this.#paused(id);
    tile.classList.toggle("tile--paused", paused);
    tile.querySelector(".tile-paused").hidden = !paused;
  }

  // --- media

  // The own camera is shown without sound (no echo).
  showLocalCamera(stream) {
    const video = this.#tile(SELF, "camera").querySelector("video");
    video.srcObject = new MediaStream(stream.getVideoTracks());
  }

  addTrack(participantId, kind, track) {
    const tracks = this.#tracks.get(participantId) || {};
    tracks[kind] = track;
    this.#tracks.set(participantId, tracks);
    if (kind === "screen") {
      this.#startScreen(participantId, new MediaStream([track]));
    } else {
      this.#attachCamera(participantId);
    }
  }

  removeTrack(participantId, kind, track) {
    const tracks = this.#tracks.get(participantId);
    if (!tracks || (track && tracks[kind] !== track)) return;
    delete tracks[kind];
    if (kind === "screen") this.stopScreen(participantId);
    else this.#attachCamera(participantId);
  }

  // Also used for one's own screen share, which never comes back from the SFU.
  startLocalScreen(stream) {
    this.#startScreen(SELF, stream);
  }

  stopScreen(participantId) {
    this.#tile(participantId, "screen")?.remove();
    this.#screens = this.#screens.filter((id) => id !== participantId);
    if (this.#pinned === `${participantId}|screen`) this.#pinned = null;
    this.#layout();
  }

  // --- layout

  setView(view) {
    this.#view = view;
    this.#layout();
  }

  setActiveSpeaker(participantId) {
    if (this.#activeSpeaker === participantId) return;
    this.#activeSpeaker = participantId;
    for (const tile of this.#container.querySelectorAll(".tile")) {
      tile.classList.toggle("tile--speaking", tile.dataset.participantId === participantId && tile.dataset.kind === "camera");
    }
    this.#layout();
  }

  featured() {
    return this.#container.querySelector(".tile--featured");
  }

  #layout() {
    const speaker = this.#view === "speaker";
    this.#container.classList.toggle("tiles--speaker", speaker);
    const chosen = speaker ? this.#featuredTile() : null;
    for (const tile of this.#container.querySelectorAll(".tile")) {
      const isFeatured = tile === chosen;
      tile.classList.toggle("tile--featured", isFeatured);
      setPressed(tile.querySelector(".tile-pin"), this.#pinned === this.#key(tile));
    }
  }

  #featuredTile() {
    const lastScreen = this.#screens.at(-1);
    const candidates = [
      this.#pinned && this.#byKey(this.#pinned),
      lastScreen !== undefined && this.#tile(lastScreen, "screen"),
      this.#activeSpeaker && this.#tile(this.#activeSpeaker, "camera"),
      this.#container.querySelector(".tile:not(.tile-self)"),
      this.#container.querySelector(".tile"),
    ];
    return candidates.find(Boolean) || null;
  }

  // --- elements

  #attachCamera(participantId) {
    const tile = this.#tile(participantId, "camera") || this.ensure(participantId, "");
    const { audio, video } = this.#tracks.get(participantId) || {};
    const tracks = [audio, video].filter(Boolean);
    const element = tile.querySelector("video");
    const current = element.srcObject?.getTracks() || [];
    if (current.length === tracks.length && tracks.every((t) => current.includes(t))) return;
    element.srcObject = tracks.length ? new MediaStream(tracks) : null;
  }

  #startScreen(participantId, stream) {
    let tile = this.#tile(participantId, "screen");
    if (!tile) {
      tile = this.#create(participantId, "screen", "");
      tile.querySelector("video").muted = true;
      // The new share goes right after its owner's tile.
      this.#tile(participantId, "camera")?.after(tile);
    }
    this.#labelScreen(tile, participantId);
    tile.querySelector("video").srcObject = stream;
    this.#screens = [...this.#screens.filter((id) => id !== participantId), participantId];
    this.#layout();
  }

  #labelScreen(tile, participantId) {
    const label = participantId === SELF ? t("tiles.screen.own") : t("tiles.screen.of", { name: this.nameOf(participantId) });
    tile.dataset.name = label;
    tile.querySelector(".tile-name").textContent = label;
    tile.querySelector(".tile-pin").setAttribute("aria-label", t("tiles.show_large.screen_label", { label }));
  }

  #create(participantId, kind, name, { self = false } = {}) {
    const video = element("video");
    video.autoplay = true;
    video.playsInline = true;
    const pin = element("button", { className: "tile-pin", text: t("tiles.show_large"), attributes: { type: "button", "aria-pressed": "false" } });
    pin.addEventListener("click", () => {
      const key = this.#key(tile);
      this.#pinned = this.#pinned === key ? null : key;
      if (this.#pinned) this.#view = "speaker";
      this.#layout();
      this.#container.dispatchEvent(new CustomEvent("viewchange", { detail: { view: this.#view } }));
    });
    const marks = [element("span", { className: "tile-paused", text: t("tiles.paused"), attributes: { hidden: "" } })];
    const buttons = [pin];
    if (kind === "camera") {
      marks.push(element("span", { className: "tile-pinned-all", text: t("tiles.pinned_for_all"), attributes: { hidden: "" } }));
    }
    if (kind === "camera" && !self) {
      const keep = element("button", {
        className: "tile-keep",
        text: t("tiles.keep"),
        attributes: { type: "button", "aria-pressed": "false", "aria-label": t("tiles.keep.label", { name }) },
      });
      keep.addEventListener("click", () => this.#onPin(tile.dataset.participantId));
      buttons.unshift(keep);
    }
    const caption = element("figcaption", {}, [
      element("span", { className: "tile-name", text: name }),
      element("span", { className: "tile-hand", text: t("tiles.hand"), attributes: { hidden: "" } }),
      element("span", { className: "tile-muted", text: t("tiles.muted"), attributes: { hidden: "" } }),
      ...marks,
      ...buttons,
    ]);
    const tile = element("figure", { className: kind === "screen" ? "tile tile--screen" : "tile" }, [video, caption]);
    tile.dataset.participantId = participantId;
    tile.dataset.kind = kind;
    this.#showMarks(tile);
    this.#container.append(tile);
    this.#layout();
    return tile;
  }

  #key(tile) {
    return `${tile.dataset.participantId}|${tile.dataset.kind}`;
  }

  #byKey(key) {
    const [participantId, kind] = key.split("|");
    return this.#tile(participantId, kind);
  }

  #tile(participantId, kind) {
    return this.#container.querySelector(
      `.tile[data-participant-id="${CSS.escape(participantId)}"][data-kind="${kind}"]`,
    );
  }

  #tilesOf(participantId) {
    return this.#container.querySelectorAll(`.tile[data-participant-id="${CSS.escape(participantId)}"]`);
  }
}

export { SELF };
