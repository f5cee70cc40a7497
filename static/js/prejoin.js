// Pre-join page: camera preview, device toggles and the audio-only choice (which turns the
// camera off). Without JavaScript the form still works: the server ignores the camera when
// audio-only is chosen.

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
    say("Votre navigateur ne permet pas d'afficher l'aperçu de la caméra.");
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
    say("Aperçu de votre caméra.");
  } catch (error) {
    const denied = error?.name === "NotAllowedError";
    say(
      denied
        ? "L'accès à la caméra a été refusé. Autorisez-le dans votre navigateur pour être vu."
        : "Aucune caméra utilisable n'a été trouvée.",
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
    say("Audio seul : vous ne recevrez ni n'enverrez de vidéo.");
  } else if (cameraBox.checked) {
    startPreview();
  } else {
    stopPreview();
    say("Caméra désactivée : les autres participants ne vous verront pas.");
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
