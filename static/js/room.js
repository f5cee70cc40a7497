// The in-room page: asks the portal for a join token, joins the SFU, and keeps one tile per
// participant, plus the microphone, camera and leave buttons. Media and signalling live in
// sfu-client.js; this module only turns its events into the page.

import { SfuSession } from "./sfu-client.js";

const root = document.getElementById("room");
const tiles = document.getElementById("tiles");
const statusRegion = document.getElementById("room-status");
const microphoneButton = document.getElementById("toggle-microphone");
const cameraButton = document.getElementById("toggle-camera");
const leaveButton = document.getElementById("leave");

const settings = {
  tokenUrl: root.dataset.tokenUrl,
  room: root.dataset.room,
  displayName: root.dataset.displayName,
  microphone: root.dataset.microphone === "on",
  camera: root.dataset.camera === "on",
  csrfToken: root.dataset.csrfToken,
  leftUrl: root.dataset.leftUrl || "/",
};

let session = null;
let localStream = null;

function announce(message) {
  statusRegion.textContent = message;
}

// The button's name stays fixed ("Micro"); its state is aria-pressed, which assistive
// technologies announce as "pressed / not pressed" and the CSS shows.
function setPressed(button, enabled) {
  button.setAttribute("aria-pressed", String(enabled));
}

function tileFor(participantId, name) {
  let tile = tiles.querySelector(`[data-participant-id="${CSS.escape(participantId)}"]`);
  if (tile) return tile;
  tile = document.createElement("figure");
  tile.className = "tile";
  tile.dataset.participantId = participantId;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  const caption = document.createElement("figcaption");
  const label = document.createElement("span");
  label.className = "tile-name";
  label.textContent = name;
  const muted = document.createElement("span");
  muted.className = "tile-muted";
  muted.hidden = true;
  muted.textContent = "micro coupé";
  caption.append(label, muted);
  tile.append(video, caption);
  tiles.append(tile);
  return tile;
}

function showMuteState(participantId, microphone, camera) {
  const tile = tiles.querySelector(`[data-participant-id="${CSS.escape(participantId)}"]`);
  if (!tile) return;
  tile.querySelector(".tile-muted").hidden = microphone !== false;
  tile.classList.toggle("tile-camera-off", camera === false);
}

function attachStream(participantId, stream) {
  const name = session.participants.get(participantId)?.name ?? "";
  const video = tileFor(participantId, name).querySelector("video");
  // sfu-client.js keeps one MediaStream per participant, holding their audio and video.
  if (video.srcObject !== stream) video.srcObject = stream;
}

async function fetchJoinTicket() {
  const response = await fetch(settings.tokenUrl, {
    method: "POST",
    headers: { "X-CSRFToken": settings.csrfToken, Accept: "application/json" },
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `Erreur ${response.status}`);
  return body;
}

async function start() {
  announce("Connexion à la salle…");
  localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  localStream.getAudioTracks().forEach((t) => (t.enabled = settings.microphone));
  localStream.getVideoTracks().forEach((t) => (t.enabled = settings.camera));
  const own = tileFor("self", `${settings.displayName} (vous)`);
  own.classList.add("tile-self");
  const ownVideo = own.querySelector("video");
  ownVideo.muted = true;
  ownVideo.srcObject = new MediaStream(localStream.getVideoTracks());

  const ticket = await fetchJoinTicket();
  session = new SfuSession({
    signallingUrl: ticket.signalling_url,
    room: ticket.room,
    token: ticket.token,
    iceServers: ticket.ice_servers || [],
  });
  session.addEventListener("joined", (event) => {
    for (const participant of event.detail.participants) {
      tileFor(participant.id, participant.name);
      showMuteState(participant.id, participant.microphone, participant.camera);
    }
    announce("Vous êtes dans la salle.");
  });
  session.addEventListener("participant-joined", (event) => {
    tileFor(event.detail.id, event.detail.name).querySelector(".tile-name").textContent =
      event.detail.name;
    announce(`${event.detail.name} a rejoint la salle.`);
  });
  session.addEventListener("participant-left", (event) => {
    const tile = tiles.querySelector(`[data-participant-id="${CSS.escape(event.detail.id)}"]`);
    if (tile) {
      announce(`${tile.querySelector(".tile-name").textContent} a quitté la salle.`);
      tile.remove();
    }
  });
  session.addEventListener("participant-updated", (event) => {
    showMuteState(event.detail.id, event.detail.microphone, event.detail.camera);
  });
  session.addEventListener("track", (event) => attachStream(event.detail.participantId, event.detail.stream));
  session.addEventListener("closed", (event) => {
    if (event.detail.code !== 1000) announce(`Connexion perdue : ${event.detail.reason || "erreur"}`);
  });
  await session.join(localStream);
  session.setMicrophoneEnabled(settings.microphone);
  session.setCameraEnabled(settings.camera);
}

microphoneButton.addEventListener("click", () => {
  settings.microphone = !settings.microphone;
  localStream?.getAudioTracks().forEach((t) => (t.enabled = settings.microphone));
  session?.setMicrophoneEnabled(settings.microphone);
  setPressed(microphoneButton, settings.microphone);
});

cameraButton.addEventListener("click", () => {
  settings.camera = !settings.camera;
  localStream?.getVideoTracks().forEach((t) => (t.enabled = settings.camera));
  session?.setCameraEnabled(settings.camera);
  setPressed(cameraButton, settings.camera);
});

leaveButton.addEventListener("click", () => {
  session?.leave();
  localStream?.getTracks().forEach((t) => t.stop());
  window.location.assign(settings.leftUrl);
});

setPressed(microphoneButton, settings.microphone);
setPressed(cameraButton, settings.camera);
start().catch((error) => {
  console.error(error);
  announce(`Impossible de rejoindre la salle : ${error.message}`);
});
