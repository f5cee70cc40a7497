// "Audio seul" in the room: a toolbar toggle, joining in the mode chosen on the pre-join page
// (<main data-audio-only="on|off">), and a badge on the tiles of participants in that mode.
// The SFU enforces it (docs/protocol.md, "Audio-only"): no video is forwarded to us, our camera
// is not forwarded. Wired by room.js with attachAudioOnly(session, {root, announce}) — called
// again for a new session (reconnection) it keeps the same button.

let state = null;

function setup(root, announce) {
  const cameraButton = document.getElementById("toggle-camera");
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.id = "toggle-audio-only";
  toggle.className = "toolbar__button";
  toggle.textContent = "Audio seul";
  toggle.setAttribute("aria-pressed", "false");
  cameraButton?.after(toggle);
  state = { root, announce, cameraButton, toggle, session: null, enabled: root.dataset.audioOnly === "on" };
  toggle.addEventListener("click", () => setMode(!state.enabled, { tell: true }));
  show(state.enabled);
}

function show(enabled) {
  state.enabled = enabled;
  state.toggle.setAttribute("aria-pressed", String(enabled));
  // No camera in audio-only mode: turn it off through the room's own camera button.
  if (enabled && state.cameraButton?.getAttribute("aria-pressed") === "true") state.cameraButton.click();
  if (state.cameraButton) state.cameraButton.disabled = enabled;
}

function setMode(enabled, { tell }) {
  show(enabled);
  state.session?.setAudioOnly(enabled);
  if (tell) {
    state.announce(
      enabled
        ? "Audio seul : vous ne recevez plus de vidéo et votre caméra est coupée."
        : "Vidéo rétablie. Vous pouvez réactiver votre caméra.",
    );
  }
}

function badge(participant) {
  for (const tile of state.root.querySelectorAll(".tile")) {
    if (tile.dataset.participantId !== participant.id || tile.dataset.kind !== "camera") continue;
    let mark = tile.querySelector(".tile__audio-only");
    if (participant.audio_only && !mark) {
      mark = document.createElement("span");
      mark.className = "tile__audio-only room__badge";
      mark.textContent = "audio seul";
      tile.append(mark);
    } else if (!participant.audio_only && mark) {
      mark.remove();
    }
  }
}

export function attachAudioOnly(session, { root, announce }) {
  if (!state) setup(root, announce);
  state.session = session;
  session.addEventListener("joined", ({ detail }) => {
    // Join in the mode chosen before entering (the room's default is the server's start).
    if (Boolean(detail.me?.audio_only) !== state.enabled) session.setAudioOnly(state.enabled);
    for (const participant of detail.participants) badge(participant);
  });
  for (const type of ["participant-joined", "participant-updated"]) {
    session.addEventListener(type, ({ detail }) => {
      if (detail.id === session.participantId) {
        if (Boolean(detail.audio_only) !== state.enabled) show(Boolean(detail.audio_only));
      } else {
        // The tile may be created by the same event: mark it once the room has drawn it.
        setTimeout(() => badge(detail), 0);
      }
    });
  }
}
