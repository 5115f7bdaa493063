// Small DOM helpers. Text always goes in through textContent (never
// innerHTML), so data from the API cannot inject markup.

// h("tag.class#id", {attrs, onclick…}, ...children) builds an element.
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || "div");
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === ".") el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let seq = 0;
// field renders a labelled control; extra text goes to an associated hint.
export function field(label, control, hint) {
  const id = control.id || "f" + ++seq;
  control.id = id;
  const err = h("p.field-error", { id: id + "-err", role: "alert" });
  control.setAttribute("aria-describedby", (hint ? id + "-hint " : "") + id + "-err");
  return h("div.field", h("label", { for: id }, label), control, hint ? h("p.hint", { id: id + "-hint" }, hint) : null, err);
}

// setFieldError shows msg under the control (empty clears it).
export function setFieldError(control, msg) {
  const err = document.getElementById(control.id + "-err");
  if (err) err.textContent = msg || "";
  if (msg) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}

export function toast(msg, kind) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = kind || "ok";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ""; t.className = ""; }, 6000);
}

export function fmtDate(s) {
  if (!s) return "—";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

export function json(v) { return JSON.stringify(v, null, 2); }

// errorBox lists API errors in an alert region.
export function errorBox(err) {
  const list = (err && err.errors) || [{ message: String(err && err.message || err) }];
  return h("div.alert", { role: "alert" }, list.map((e) => h("p", e.message + (e.extensions && e.extensions.code ? " (" + e.extensions.code + ")" : ""))));
}

// params returns the fragment's query (#/users?q=… → URLSearchParams).
export function params() {
  const i = location.hash.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
}

// go navigates to a fragment route with optional query parameters.
export function go(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v)).toString() : "";
  location.hash = path + (q ? "?" + q : "");
}
