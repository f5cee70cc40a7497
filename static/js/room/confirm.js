// Confirmation for actions that cannot be undone (remove someone, end the meeting for everyone),
// in the page's <dialog>: modal, keyboard operable, Escape cancels.

const dialog = document.getElementById("confirm-dialog");

export function confirmAction({ title, detail, confirmLabel }) {
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-detail").textContent = detail;
  document.getElementById("confirm-accept").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}
