// "Copy the link" buttons: shown only when the clipboard API exists; the text field stays as
// the fallback anyone can select and copy.

import { t } from "./i18n.js";

for (const button of document.querySelectorAll("button[data-copy-target]")) {
  const input = document.getElementById(button.dataset.copyTarget);
  const status = document.querySelector(`[data-copy-status-for="${button.dataset.copyTarget}"]`);
  if (!input || !navigator.clipboard?.writeText) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      if (status) status.textContent = t("copy.done");
    } catch {
      input.select();
      if (status) status.textContent = t("copy.failed");
    }
  });
}
