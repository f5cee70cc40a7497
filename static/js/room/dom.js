// Small DOM helpers shared by the room's modules: building elements without innerHTML (names and
// chat messages come from other people) and reading out announcements.

export function element(tag, { className, text, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function button(text, { className = "room-button room-button--small", label } = {}) {
  const node = element("button", { className, text, attributes: { type: "button" } });
  // Repeated buttons ("Retirer") name their target for screen readers: "Retirer Julien Petit".
  if (label) node.setAttribute("aria-label", label);
  return node;
}

// Screen readers only read a live region when its text changes: clear it first, so that the same
// sentence twice ("Julien Petit lève la main.") is read twice.
export function createAnnouncer(region) {
  let timer = null;
  return (message) => {
    clearTimeout(timer);
    region.textContent = "";
    timer = setTimeout(() => {
      region.textContent = message;
    }, 50);
  };
}

export function setPressed(node, pressed) {
  node.setAttribute("aria-pressed", String(Boolean(pressed)));
}

export function showCount(node, count) {
  node.textContent = count > 0 ? `(${count})` : "";
  node.hidden = count <= 0;
}
