// The template gallery of the JavaScript rule editor: Auth0's published
// post-login Actions and Rules examples, served by the API (ruleTemplates).
import { gql } from "./api.js";
import { h, errorBox } from "./dom.js";

const TEMPLATES = `{ ruleTemplates { id name description kind javascript } }`;
const KINDS = { action: "Action", rule: "Rule" };

let cache = null;

// gallery returns a toggle button and the region it opens; onChoose gets
// the chosen template ({id name description kind javascript}). Templates
// load on first opening.
export function gallery(onChoose) {
  const region = h("section#rule-gallery.gallery", { hidden: true, "aria-labelledby": "gallery-h" });
  const toggle = h("button.secondary#gallery-toggle", { type: "button", "aria-expanded": "false", "aria-controls": "rule-gallery" }, "Start from a template");
  const close = () => {
    region.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
  };
  const open = async () => {
    region.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    region.replaceChildren(h("h3#gallery-h", "Templates"), h("p.muted", "Loading…"));
    try {
      cache = cache || (await gql(TEMPLATES)).ruleTemplates;
    } catch (err) {
      region.replaceChildren(h("h3#gallery-h", "Templates"), errorBox(err));
      return;
    }
    region.replaceChildren(
      h("h3#gallery-h", "Templates"),
      h("p.hint", "Choosing a template replaces the editor's source; the rule is saved only when you save it."),
      cache.length ? h("ul.gallery-list", cache.map((t) => h("li.card.template", { "data-template": t.id },
        h("h4", t.name, h("span.badge", { "data-kind": t.kind }, KINDS[t.kind] || t.kind)),
        h("p", t.description),
        h("button", { type: "button", "aria-label": "Use the template " + t.name, onclick: () => { close(); onChoose(t); } }, "Use template"))))
        : h("p", "No templates."));
    const first = region.querySelector("button");
    if (first) first.focus();
  };
  toggle.addEventListener("click", () => (region.hidden ? open() : close()));
  region.addEventListener("keydown", (e) => { if (e.key === "Escape") { close(); toggle.focus(); } });
  return { toggle, region };
}
