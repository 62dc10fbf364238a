// DOM helpers. Data is only ever inserted as text (textContent / createTextNode), never as HTML.

/**
 * el("p", {class: "x", dataset: {widget: "a"}, attrs: {"aria-label": "y"}}, "text", child, ...)
 * Strings and numbers become text nodes; null/undefined/false are skipped; arrays are flattened.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { class: className, dataset, attrs, text, ...rest } = props || {};
  if (className) node.className = className;
  if (dataset) Object.entries(dataset).forEach(([k, v]) => (node.dataset[k] = String(v)));
  if (attrs) Object.entries(attrs).forEach(([k, v]) => v != null && node.setAttribute(k, String(v)));
  Object.entries(rest).forEach(([k, v]) => {
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (v != null) node[k] = v;
  });
  if (text != null) node.textContent = String(text);
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** An inline SVG icon built with DOM APIs (no markup strings). */
export function icon(pathData, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", label ? "false" : "true");
  if (label) svg.setAttribute("aria-label", label);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", pathData);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}
