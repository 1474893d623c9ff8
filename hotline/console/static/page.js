// What the server put in the page (who, the catalog, the vocabularies), and the messages.
const data = JSON.parse(document.getElementById("page-data").textContent);

export const page = data;

/** The catalog's text for key, with {name} placeholders filled; the key itself if missing. */
export function t(key, vars = {}) {
  const text = data.messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Show a one-line notice at the top (errors stay until replaced; others fade). */
export function notify(text, kind = "error") {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(notify.timer);
  if (kind !== "error") notify.timer = setTimeout(() => (box.hidden = true), 4000);
}

/** Set an element's text by id (never HTML: what the network sends is text). */
export function setText(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text ?? "";
  return el;
}

/** A new element with text and attributes; children appended. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
