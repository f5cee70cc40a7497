// "Copy the link" buttons: shown only when the clipboard API exists; the text field stays as
// the fallback anyone can select and copy.

for (const button of document.querySelectorAll("button[data-copy-target]")) {
  const input = document.getElementById(button.dataset.copyTarget);
  const status = document.querySelector(`[data-copy-status-for="${button.dataset.copyTarget}"]`);
  if (!input || !navigator.clipboard?.writeText) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      if (status) status.textContent = "Lien copié.";
    } catch {
      input.select();
      if (status) status.textContent = "Copie impossible : sélectionnez le lien et copiez-le.";
    }
  });
}
