import { gql } from "./api.js";
import { h, field, setFieldError, fmtDate, toast, errorBox } from "./dom.js";
import { can } from "./auth.js";
import { TEST_RESULT, testResult } from "./ruletest.js";

const LIST = `{ rules(first: 100, orderBy: {field: ORDER, direction: ASC}) {
  edges { node { id name order enabled language version moduleSize secretsSet updatedAt } } } }`;
const TEST = `mutation T($id: ID, $userId: ID, $clientId: String) { testRule(id: $id, userId: $userId, clientId: $clientId) { ${TEST_RESULT} } }`;

const LANGUAGES = { WASM: "WASM", JAVASCRIPT: "JavaScript" };

// readModule returns the chosen file as standard base64.
function readModule(input) {
  return new Promise((resolve, reject) => {
    const f = input.files && input.files[0];
    if (!f) { reject(new Error("Choose a .wasm file.")); return; }
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(f);
  });
}

export async function rulesPage() {
  const page = h("section");
  await draw(page);
  return page;
}

async function draw(page, focusSel) {
  const rules = (await gql(LIST)).rules.edges.map((e) => e.node);
  const status = h("div", { "aria-live": "polite" });
  const reorder = async (i, j) => {
    const ids = rules.map((r) => r.id);
    [ids[i], ids[j]] = [ids[j], ids[i]];
    try {
      await gql(`mutation R($ids: [ID!]!) { reorderRules(ids: $ids) { id } }`, { ids });
      toast("Order saved.");
      await draw(page, `[data-move="${rules[i].id}-${j < i ? "up" : "down"}"]`);
    } catch (err) { status.replaceChildren(errorBox(err)); }
  };
  const rows = rules.map((r, i) => h("tr",
    h("td.num", String(i + 1)),
    // A JavaScript rule's source opens in the editor; a module is replaced by uploading another.
    h("td", r.language === "JAVASCRIPT" ? h("a", { href: "#/rules/" + encodeURIComponent(r.id), "aria-label": "Edit the source of " + r.name }, r.name) : r.name),
    h("td", LANGUAGES[r.language] || r.language),
    h("td", h("input", { type: "checkbox", checked: r.enabled, disabled: !can("update:rules"), "aria-label": "Enabled: " + r.name,
      onchange: async (e) => {
        try {
          await gql(`mutation E($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id } }`, { id: r.id, input: { enabled: e.target.checked } });
          toast(r.name + (e.target.checked ? " enabled." : " disabled."));
        } catch (err) { e.target.checked = !e.target.checked; status.replaceChildren(errorBox(err)); }
      } })),
    h("td.mono", r.version.slice(0, 12)),
    h("td.num", (r.moduleSize / 1024).toFixed(1) + " KiB"),
    h("td", r.secretsSet.join(", ") || "—"),
    h("td", fmtDate(r.updatedAt)),
    h("td", h("div.actions",
      h("button", { type: "button", "data-move": r.id + "-up", disabled: i === 0 || !can("update:rules"), "aria-label": "Move " + r.name + " up", onclick: () => reorder(i, i - 1) }, "↑"),
      h("button", { type: "button", "data-move": r.id + "-down", disabled: i === rules.length - 1 || !can("update:rules"), "aria-label": "Move " + r.name + " down", onclick: () => reorder(i, i + 1) }, "↓"),
      h("button.danger", { type: "button", disabled: !can("delete:rules"), "aria-label": "Delete " + r.name, onclick: async () => {
        if (!confirm("Delete the rule " + r.name + "?")) return;
        try { await gql(`mutation D($id: ID!) { deleteRule(id: $id) }`, { id: r.id }); toast("Deleted " + r.name + "."); await draw(page); } catch (err) { status.replaceChildren(errorBox(err)); }
      } }, "Delete")))));

  page.replaceChildren(
    h("h1", "Rules"),
    h("p.muted", "Enabled rules run in this order on every login and refresh (never on the dashboard's own sign-in)."),
    can("create:rules") ? h("p.actions", h("a.button#new-js-rule", { href: "#/rules/new" }, "New JavaScript rule")) : null,
    status,
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["#", "Name", "Language", "Enabled", "Version", "Size", "Secrets", "Updated", "Order"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 9 }, "No rules yet."))))),
    h("div.grid", uploadForm(page, rules), testForm(rules)));
  if (focusSel) { const el = page.querySelector(focusSel); if (el && !el.disabled) el.focus(); }
}

function uploadForm(page, rules) {
  const target = h("select", h("option", { value: "" }, "A new rule"), rules.map((r) => h("option", { value: r.id }, "New version of " + r.name)));
  const name = h("input", { type: "text", autocomplete: "off" });
  const file = h("input", { type: "file", accept: ".wasm,application/wasm" });
  const err = h("div");
  return h("form.card", { "aria-labelledby": "upload-h", onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    setFieldError(file, "");
    setFieldError(name, "");
    let module;
    try { module = await readModule(file); } catch (ex) { setFieldError(file, ex.message); file.focus(); return; }
    try {
      if (target.value) {
        await gql(`mutation U($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id } }`, { id: target.value, input: { module } });
      } else {
        if (!name.value.trim()) { setFieldError(name, "A new rule needs a name."); name.focus(); return; }
        await gql(`mutation C($input: CreateRuleInput!) { createRule(input: $input) { id } }`, { input: { name: name.value.trim(), module } });
      }
      toast("Rule uploaded.");
      await draw(page);
    } catch (ex) {
      const fe = ex.fieldErrors ? ex.fieldErrors() : {};
      if (fe.name) { setFieldError(name, fe.name); name.focus(); } else if (fe.module) { setFieldError(file, fe.module); file.focus(); } else err.replaceChildren(errorBox(ex));
    }
  } },
    h("h2#upload-h", "Upload a WebAssembly module"),
    field("Upload as", target),
    field("Name (new rules)", name),
    field("WebAssembly module (.wasm)", file, "Built with the rules SDK (rules-sdk/); at most 8 MiB."),
    err,
    h("div.actions", h("button", { type: "submit", disabled: !can("create:rules") && !can("update:rules") }, "Upload")));
}

function testForm(rules) {
  const rule = h("select", rules.map((r) => h("option", { value: r.id }, r.name)));
  const user = h("input.mono", { type: "text", placeholder: "usr_… or auth0|…", autocomplete: "off" });
  const client = h("input.mono", { type: "text", placeholder: "optional client_id", autocomplete: "off" });
  const out = h("div#rule-test-result", { "aria-live": "polite" });
  return h("form.card", { "aria-labelledby": "test-h", onsubmit: async (e) => {
    e.preventDefault();
    out.replaceChildren(h("p.muted", "Running…"));
    try {
      const r = (await gql(TEST, { id: rule.value, userId: user.value.trim() || null, clientId: client.value.trim() || null })).testRule;
      out.replaceChildren(...testResult(r));
    } catch (ex) { out.replaceChildren(errorBox(ex)); }
  } },
    h("h2#test-h", "Test-run a rule"),
    h("p.hint", "Runs the rule once on the user's real login event; nothing is saved."),
    field("Rule", rule), field("User", user), field("Application (client_id)", client),
    h("div.actions", h("button", { type: "submit", disabled: rules.length === 0 }, "Run")),
    out);
}
