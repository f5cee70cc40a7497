// The side panels (participants, waiting room, chat): one open at a time, opened by a toolbar
// button that says so with aria-expanded, closed by its "Fermer" button or Escape, which gives
// the focus back to the toolbar button.

export class Panels {
  #toggles = new Map(); // panel id → toolbar button
  #listeners = new Set();

  constructor(root) {
    for (const toggle of root.querySelectorAll("[aria-controls]")) {
      const panel = document.getElementById(toggle.getAttribute("aria-controls"));
      if (!panel?.classList.contains("panel")) continue;
      this.#toggles.set(panel.id, toggle);
      toggle.addEventListener("click", () => (this.isOpen(panel.id) ? this.close(panel.id) : this.open(panel.id)));
      panel.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.preventDefault();
          this.close(panel.id);
        }
      });
    }
    for (const closer of root.querySelectorAll("[data-close-panel]")) {
      closer.addEventListener("click", () => this.close(closer.dataset.closePanel));
    }
  }

  isOpen(id) {
    return !document.getElementById(id).hidden;
  }

  // Called with (panelId, open) after every change.
  onChange(listener) {
    this.#listeners.add(listener);
  }

  open(id) {
    for (const other of this.#toggles.keys()) if (other !== id && this.isOpen(other)) this.#set(other, false);
    this.#set(id, true);
    const panel = document.getElementById(id);
    const target = panel.querySelector("[data-autofocus]") || panel.querySelector(".panel__title");
    target?.focus();
  }

  close(id) {
    if (!this.isOpen(id)) return;
    this.#set(id, false);
    this.#toggles.get(id)?.focus();
  }

  #set(id, open) {
    document.getElementById(id).hidden = !open;
    this.#toggles.get(id)?.setAttribute("aria-expanded", String(open));
    document.getElementById("side-panels").classList.toggle("side-panels--open", this.#anyOpen());
    for (const listener of this.#listeners) listener(id, open);
  }

  #anyOpen() {
    return [...this.#toggles.keys()].some((id) => this.isOpen(id));
  }
}
