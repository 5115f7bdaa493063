// The JavaScript rule editor (#/rules/new, #/rules/{id}): source editing,
// the template gallery, saving and test runs of the source being edited.
import { gql } from "./api.js";
import { h, field, setFieldError, fmtDate, toast, errorBox, go } from "./dom.js";
import { can } from "./auth.js";
import { codeEditor } from "./codeeditor.js";
import { gallery } from "./rulegallery.js";
import { TEST_RESULT, testResult } from "./ruletest.js";

const ONE = `query R($id: ID!) { rule(id: $id) { id name enabled language javascript version secretsSet updatedAt } }`;
const CREATE = `mutation C($input: CreateRuleInput!) { createRule(input: $input) { id } }`;
const UPDATE = `mutation U($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id name version updatedAt } }`;
const TEST = `mutation T($id: ID, $javascript: String, $userId: ID, $clientId: String) {
  testRule(id: $id, javascript: $javascript, userId: $userId, clientId: $clientId) { ${TEST_RESULT} } }`;

const STARTER = `exports.onExecutePostLogin = async (event, api) => {
  // api.idToken.setCustomClaim("https://example.com/plan", event.user.app_metadata.plan);
};
`;

// fieldError returns the API error about field, if any.
function fieldError(ex, name) {
  return ((ex && ex.errors) || []).find((e) => e.extensions && e.extensions.field === name);
}

export async function ruleEditorPage(id) {
  const isNew = id === "new";
  const rule = isNew ? null : (await gql(ONE, { id })).rule;
  const canSave = can(isNew ? "create:rules" : "update:rules");
  let saved = rule ? rule.javascript || "" : "";
  // What the editor was last filled with: replacing it loses nothing.
  let filled = rule ? saved : STARTER;
  let templateName = "";

  const heading = h("h1", isNew ? "New JavaScript rule" : rule.name);
  const meta = h("p.muted#rule-meta");
  const showMeta = (r) => meta.replaceChildren(r ? `JavaScript · version ${r.version.slice(0, 12)} · updated ${fmtDate(r.updatedAt)}` : "");
  const status = h("div#rule-status", { "aria-live": "polite" });

  const name = h("input", { type: "text", name: "name", autocomplete: "off", value: rule ? rule.name : "", disabled: !canSave });
  const enabled = h("input#rule-enabled", { type: "checkbox", name: "enabled", checked: rule ? rule.enabled : true, disabled: !canSave });
  const editor = codeEditor({
    label: "Source (JavaScript)",
    value: filled,
    readOnly: !canSave,
    hint: "A post-login Action (exports.onExecutePostLogin = async (event, api) => …) or a Rule function (user, context, callback). " +
      "Tab indents by two spaces; press Esc, then Tab, to leave the editor.",
  });
  const save = h("button", { type: "submit", disabled: !canSave }, isNew ? "Create rule" : "Save");

  // showApiError puts a field's error next to it; others go to the status.
  const showApiError = (ex) => {
    const js = fieldError(ex, "javascript");
    const nm = fieldError(ex, "name");
    if (js) {
      const x = js.extensions;
      editor.showError(js.message, Number(x.line) || 0, Number(x.column) || 0);
    } else if (nm) {
      setFieldError(name, nm.message);
      name.focus();
    } else {
      status.replaceChildren(errorBox(ex));
    }
  };

  const choose = (t) => {
    if (editor.value !== filled && editor.value.trim() !== "" && !confirm("Replace the source in the editor with the template " + t.name + "?")) return;
    editor.setValue(t.javascript);
    filled = t.javascript;
    if (isNew && (!name.value.trim() || name.value === templateName)) name.value = t.name;
    templateName = t.name;
    toast("Template " + t.name + " loaded; save to create the rule.");
    editor.textarea.focus();
  };
  const g = isNew && canSave ? gallery(choose) : null;

  const form = h("form.card#rule-form", { "aria-labelledby": "source-h", onsubmit: async (e) => {
    e.preventDefault();
    status.replaceChildren();
    setFieldError(name, "");
    editor.clearError();
    if (!name.value.trim()) { setFieldError(name, "The rule needs a name."); name.focus(); return; }
    if (!editor.value.trim()) { editor.showError("The rule needs some JavaScript."); return; }
    save.disabled = true;
    try {
      if (isNew) {
        const d = await gql(CREATE, { input: { name: name.value.trim(), javascript: editor.value, enabled: enabled.checked } });
        toast("Rule " + name.value.trim() + " created.");
        go("#/rules/" + encodeURIComponent(d.createRule.id));
        return;
      }
      const d = await gql(UPDATE, { id: rule.id, input: { name: name.value.trim(), javascript: editor.value, enabled: enabled.checked } });
      saved = filled = editor.value;
      heading.textContent = d.updateRule.name;
      showMeta(d.updateRule);
      toast("Saved " + d.updateRule.name + ".");
    } catch (ex) {
      showApiError(ex);
    } finally {
      save.disabled = !canSave;
    }
  } },
    h("h2#source-h", "Source"),
    g ? h("div.actions", g.toggle) : null,
    g ? g.region : null,
    field("Name", name),
    h("div.field.check", enabled, h("label", { for: "rule-enabled" }, "Enabled (runs on logins)")),
    editor.element,
    h("div.actions", save, h("a", { href: "#/rules" }, "Cancel")));

  const user = h("input.mono", { type: "text", name: "userId", placeholder: "usr_… or auth0|…", autocomplete: "off" });
  const client = h("input.mono", { type: "text", name: "clientId", placeholder: "optional client_id", autocomplete: "off" });
  const out = h("div#js-test-result", { "aria-live": "polite" });
  const test = h("form.card#rule-test", { "aria-labelledby": "jstest-h", onsubmit: async (e) => {
    e.preventDefault();
    editor.clearError();
    if (!editor.value.trim()) { editor.showError("The rule needs some JavaScript."); return; }
    out.replaceChildren(h("p.muted", "Running…"));
    // The saved source runs as the stored rule; an edited one with its secrets.
    const edited = isNew || editor.value !== saved;
    try {
      const r = (await gql(TEST, {
        id: isNew ? null : rule.id, javascript: edited ? editor.value : null,
        userId: user.value.trim() || null, clientId: client.value.trim() || null,
      })).testRule;
      out.replaceChildren(...testResult(r));
    } catch (ex) {
      if (fieldError(ex, "javascript")) { out.replaceChildren(); showApiError(ex); } else out.replaceChildren(errorBox(ex));
    }
  } },
    h("h2#jstest-h", "Test-run the source"),
    h("p.hint", "Runs the source in the editor once on the user's real login event; nothing is saved, and a stored rule keeps its secrets."),
    field("User", user), field("Application (client_id)", client),
    h("div.actions", h("button", { type: "submit", disabled: !can("read:rules") }, "Run")),
    out);

  if (rule) showMeta(rule.language === "JAVASCRIPT" ? rule : null);
  return h("section.rule-editor",
    h("p", h("a", { href: "#/rules" }, "← All rules")),
    heading,
    meta,
    rule && rule.language !== "JAVASCRIPT"
      ? h("p.warn", "This rule runs a WebAssembly module. Saving JavaScript here replaces the module.") : null,
    status,
    form,
    test);
}
