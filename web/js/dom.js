// DOM building from nodes only (no HTML parsing anywhere): every piece of text goes in through text nodes, so text people wrote
// (a concern, a reply, a note) is always shown as text, whatever markup it contains.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    child.forEach((c) => append(node, c));
  } else if (child instanceof Node) {
    node.appendChild(child);
  } else {
    node.appendChild(document.createTextNode(String(child)));
  }
}

function setAttributes(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "value" && "value" in node) node.value = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
}

/** h("p", {class: "x"}, "text", child) — an element with attributes and children (strings become text). */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

/** The same for SVG elements (charts). */
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function replace(node, ...children) {
  clear(node);
  append(node, children);
  return node;
}

let fieldCounter = 0;

/** A labelled form control: the label's `for` names the control, so every control has a label. */
export function field(labelText, control, hint) {
  fieldCounter += 1;
  if (!control.id) control.id = `f${fieldCounter}`;
  const parts = [h("label", { for: control.id }, labelText), control];
  if (hint) {
    const hintId = `${control.id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint" }, hint));
  }
  return h("div", { class: "field" }, parts);
}

export function select(name, options, attrs = {}) {
  return h("select", { name, ...attrs }, options.map(([value, label]) => h("option", { value }, label)));
}

/** Read a form's named controls into a plain object (empty strings left out). */
export function formValues(form) {
  const values = {};
  for (const [key, value] of new FormData(form).entries()) {
    if (typeof value === "string" && value.trim() === "") continue;
    if (key in values) values[key] = [].concat(values[key], value);
    else values[key] = value;
  }
  return values;
}
