// Pre-join page: camera preview and device toggles. Without JavaScript the form still works.

const form = document.getElementById("prejoin-form");
const video = document.getElementById("preview");
const status = document.getElementById("preview-status");
const cameraBox = form?.querySelector('input[name="camera"]');
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

function update() {
  if (cameraBox.checked) {
    startPreview();
  } else {
    stopPreview();
    say("Caméra désactivée : les autres participants ne vous verront pas.");
  }
}

if (form && video && cameraBox) {
  cameraBox.addEventListener("change", update);
  // Free the camera before the room page asks for it again.
  form.addEventListener("submit", stopPreview);
  window.addEventListener("pagehide", stopPreview);
  update();
}
