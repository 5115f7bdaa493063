// A plain <textarea> made fit for editing code without a vendored editor:
// line numbers, Tab indenting by two spaces (Esc then Tab leaves, so the
// keyboard is never trapped), Enter keeping the line's indentation, a
// line:column readout, and an error mark at a reported line and column.
// Lines never wrap, so each row of the textarea is one line of source and
// the gutter and the mark can be placed by line number alone.
import { h, field, setFieldError } from "./dom.js";

const INDENT = "  ";

// position returns the 1-based line and column of offset in text.
export function position(text, offset) {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf("\n");
  return { line: before.split("\n").length, column: offset - nl };
}

// offsetOf is the inverse of position; out-of-range values are clamped.
export function offsetOf(text, line, column) {
  const lines = text.split("\n");
  const l = Math.min(Math.max(line, 1), lines.length);
  let off = 0;
  for (let i = 0; i < l - 1; i++) off += lines[i].length + 1;
  return off + Math.min(Math.max(column, 1) - 1, lines[l - 1].length);
}

// codeEditor returns {element, textarea, value, setValue, showError, clearError}.
// element is a labelled field (label, editor, hint, error line).
export function codeEditor({ label, value = "", hint, readOnly = false, name = "javascript" }) {
  const ta = h("textarea.code", { name, spellcheck: "false", autocomplete: "off", autocapitalize: "off", wrap: "off", rows: 20, readonly: readOnly });
  ta.value = value;
  const numbers = h("div.code-lines");
  const gutter = h("div.code-gutter", { "aria-hidden": "true" }, numbers);
  const mark = h("div.code-mark", { hidden: true, "aria-hidden": "true" });
  const pos = h("p.code-pos.hint", "Ln 1, Col 1");
  const area = h("div.code-area", mark);
  const box = h("div.code-editor", gutter, area);
  // field labels the textarea and links its hint and error; the editor's
  // box then takes the textarea's place.
  const el = field(label, ta, hint);
  ta.replaceWith(box);
  area.append(ta);
  box.after(pos);
  ta.setAttribute("aria-describedby", ta.getAttribute("aria-describedby") + " " + (pos.id = ta.id + "-pos"));

  let lineCount = 0;
  let errorLine = 0;
  const lineHeight = () => parseFloat(getComputedStyle(ta).lineHeight) || 20;

  const drawLines = () => {
    const n = ta.value.split("\n").length;
    if (n === lineCount) return;
    lineCount = n;
    const rows = [];
    for (let i = 1; i <= n; i++) rows.push(h("div", { class: i === errorLine ? "error" : null }, String(i)));
    numbers.replaceChildren(...rows);
  };
  // The gutter and the mark follow the textarea's scrolling (CSSOM, which
  // the Content-Security-Policy allows, unlike style attributes).
  const follow = () => {
    numbers.style.transform = `translateY(${-ta.scrollTop}px)`;
    if (errorLine) mark.style.transform = `translateY(${(errorLine - 1) * lineHeight() - ta.scrollTop}px)`;
  };
  const showPos = () => {
    const p = position(ta.value, ta.selectionStart);
    pos.textContent = `Ln ${p.line}, Col ${p.column}`;
  };

  function clearError() {
    setFieldError(ta, "");
    if (!errorLine) return;
    errorLine = 0;
    mark.hidden = true;
    for (const d of numbers.querySelectorAll(".error")) d.classList.remove("error");
  }

  // showError puts msg under the editor and, given a line, marks it and
  // moves the caret to line:column.
  function showError(msg, line, column) {
    setFieldError(ta, msg);
    if (!line) { ta.focus(); return; }
    const lines = ta.value.split("\n").length;
    errorLine = Math.min(Math.max(line, 1), lines);
    lineCount = 0;
    drawLines();
    mark.hidden = false;
    const at = offsetOf(ta.value, errorLine, column || 1);
    ta.focus({ preventScroll: true });
    ta.setSelectionRange(at, at);
    // Bring the line into the middle of the box.
    ta.scrollTop = Math.max(0, (errorLine - 1) * lineHeight() - ta.clientHeight / 2);
    follow();
    showPos();
    box.scrollIntoView({ block: "nearest" });
  }

  // replace swaps the selection [start, end) for text, keeping the undo
  // history where the browser supports it.
  const replace = (start, end, text, selStart, selEnd) => {
    ta.setSelectionRange(start, end);
    if (!document.execCommand("insertText", false, text)) {
      ta.setRangeText(text, start, end, "end");
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }
    if (selStart !== undefined) ta.setSelectionRange(selStart, selEnd);
  };

  let escaped = false;
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { escaped = true; return; }
    const plain = !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey;
    if (e.key === "Tab" && plain && !escaped && !ta.readOnly) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: end, value: v } = ta;
      if (!v.slice(s, end).includes("\n")) { replace(s, end, INDENT); return; }
      // A selection over several lines: indent each of them.
      const from = v.lastIndexOf("\n", s - 1) + 1;
      const block = v.slice(from, end).split("\n").map((l) => INDENT + l).join("\n");
      replace(from, end, block, from, from + block.length);
      return;
    }
    if (e.key === "Enter" && plain && !ta.readOnly && !e.isComposing) {
      const s = ta.selectionStart;
      const lineStart = ta.value.lastIndexOf("\n", s - 1) + 1;
      const indent = /^[ \t]*/.exec(ta.value.slice(lineStart, s))[0];
      if (indent) { e.preventDefault(); replace(s, ta.selectionEnd, "\n" + indent); }
    }
    escaped = false;
  });
  ta.addEventListener("blur", () => { escaped = false; });
  ta.addEventListener("input", () => { clearError(); drawLines(); follow(); showPos(); });
  ta.addEventListener("scroll", follow);
  for (const ev of ["keyup", "mouseup", "focus", "select"]) ta.addEventListener(ev, showPos);
  drawLines();

  return {
    element: el,
    textarea: ta,
    get value() { return ta.value; },
    setValue(v) {
      ta.value = v;
      clearError();
      drawLines();
      ta.scrollTop = 0;
      follow();
      ta.setSelectionRange(0, 0);
      showPos();
    },
    showError,
    clearError,
  };
}
