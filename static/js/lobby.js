// The lobby's waiting page: asks the portal every 2 s whether a moderator has decided, which
// also tells the portal the person is still there (one not seen for 20 s drops out).

import { t } from "./i18n.js";

const POLL_MILLISECONDS = 2000;
const lobby = document.getElementById("lobby");
const status = document.getElementById("lobby-status");

async function poll() {
  let state;
  try {
    const response = await fetch(lobby.dataset.stateUrl, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.status === 429) {
      // Too many requests from this address (several guests behind one proxy): wait as told.
      const seconds = Number(response.headers.get("Retry-After")) || 10;
      status.textContent = t("lobby.busy");
      setTimeout(poll, Math.max(seconds * 1000, POLL_MILLISECONDS));
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state = await response.json();
  } catch {
    status.textContent = t("lobby.offline");
    setTimeout(poll, POLL_MILLISECONDS);
    return;
  }
  if (state.status === "admitted") {
    status.textContent = t("lobby.admitted");
    window.location.assign(state.next);
  } else if (state.status === "refused") {
    status.textContent = t("lobby.refused");
    status.setAttribute("role", "alert");
  } else {
    // Only when it changes: a live region re-reads its text at every assignment.
    const waiting = t("lobby.waiting");
    if (status.textContent !== waiting) status.textContent = waiting;
    setTimeout(poll, POLL_MILLISECONDS);
  }
}

if (lobby && status) setTimeout(poll, POLL_MILLISECONDS);
