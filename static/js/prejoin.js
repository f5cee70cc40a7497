// Pre-join page: camera preview, device toggles and the audio-only choice (which turns the
// camera off). Without JavaScript the form still works: the server ignores the camera when
// audio-only is chosen.

import { t } from "./i18n.js";

const form = document.getElementById("prejoin-form");
const video = document.getElementById("preview");
const status = document.getElementById("preview-status");
const cameraBox = form?.querySelector('input[name="camera"]');
const audioOnlyBox = form?.querySelector('input[name="audio_only"]');
let stream = null;

function say(message) {
  if (status) status.textContent = message;
}

function stopPreview() {
  if (stream) {
    for (const track of stream.getTracks()) track.stop();
    stream = null;
  }
  if (video) video.srcObject = null;
}

async function startPreview() {
  if (!navigator.mediaDevices?.getUserMedia) {
    say(t("prejoin.preview.unsupported"));
    return;
  }
  stopPreview();
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    if (!cameraBox.checked) {
      stopPreview();
      return;
    }
    video.srcObject = stream;
    say(t("prejoin.preview.on"));
  } catch (error) {
    const denied = error?.name === "NotAllowedError";
    say(
      denied
        ? t("prejoin.preview.denied")
        : t("prejoin.preview.no_camera"),
    );
  }
}

function updateAudioOnly() {
  if (!audioOnlyBox) return;
  if (audioOnlyBox.checked) cameraBox.checked = false;
  cameraBox.disabled = audioOnlyBox.checked;
}

function update() {
  if (audioOnlyBox?.checked) {
    stopPreview();
    say(t("prejoin.audio_only"));
  } else if (cameraBox.checked) {
    startPreview();
  } else {
    stopPreview();
    say(t("prejoin.camera_off"));
  }
}

if (form && video && cameraBox) {
  cameraBox.addEventListener("change", update);
  audioOnlyBox?.addEventListener("change", () => {
    updateAudioOnly();
    update();
  });
  updateAudioOnly();
  // Free the camera before the room page asks for it again.
  form.addEventListener("submit", stopPreview);
  window.addEventListener("pagehide", stopPreview);
  update();
}
