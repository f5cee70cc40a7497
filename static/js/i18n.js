// Texts for the scripts, in the page's language: the portal writes them as JSON into
// <script type="application/json" id="textes"> (portal/i18n/js_messages.py). t("key", {name})
// returns the text with its {name} placeholders filled; an unknown key is returned as is, so
// a missing text shows up plainly instead of breaking the page.

const catalogue = (() => {
  const element = document.getElementById("textes");
  try {
    return element ? JSON.parse(element.textContent) : {};
  } catch {
    return {};
  }
})();

export function t(key, values = {}) {
  const text = catalogue[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (placeholder, name) =>
    name in values ? String(values[name]) : placeholder,
  );
}

export const language = document.documentElement.lang || "fr";
