// APIs (resource servers): list, create, settings with the RBAC switches,
// and their permissions (the scopes they declare).
import { gql, ApiError } from "./api.js";
import { h, field, setFieldError, fmtDate, toast, errorBox, go } from "./dom.js";
import { can } from "./auth.js";

const API_FIELDS = `id identifier name system allowOfflineAccess tokenLifetime enforcePolicies tokenDialect
  introspectionClients scopes { value description } createdAt updatedAt`;
const LIST = `{ resourceServers(first: 100) { totalCount edges { node { ${API_FIELDS} } } } }`;
const UPDATE = `mutation U($id: ID!, $input: UpdateResourceServerInput!) { updateResourceServer(id: $id, input: $input) { ${API_FIELDS} } }`;

// Auth0's access-token dialects; the _authz ones add a `permissions` claim
// and are refused unless the API enforces policies.
const DIALECTS = [
  ["access_token", "access_token: scopes only"],
  ["access_token_authz", "access_token_authz: scopes and a permissions claim"],
  ["rfc9068_profile", "rfc9068_profile: RFC 9068 JWT profile"],
  ["rfc9068_profile_authz", "rfc9068_profile_authz: RFC 9068 with a permissions claim"],
];
const needsPolicies = (d) => d.endsWith("_authz");

// showErrors puts the API's field errors under their controls (controls
// maps input field names to elements) and the rest in box.
function showErrors(err, controls, box) {
  const fe = err instanceof ApiError ? err.fieldErrors() : {};
  let shown = false;
  for (const [k, c] of Object.entries(controls)) {
    if (fe[k]) { setFieldError(c, fe[k]); if (!shown) c.focus(); shown = true; }
  }
  if (!shown) box.replaceChildren(errorBox(err));
}

export async function apisPage() {
  const d = (await gql(LIST)).resourceServers;
  const rows = d.edges.map(({ node: a }) => h("tr",
    h("td", h("a", { href: "#/apis/" + encodeURIComponent(a.id) }, a.name), a.system ? h("span.badge", " built in") : null),
    h("td.mono", a.identifier),
    h("td.num", String(a.scopes.length)),
    h("td", a.enforcePolicies ? "on" : "off"),
    h("td", h("code", a.tokenDialect)),
    h("td", fmtDate(a.createdAt))));

  const name = h("input", { type: "text", required: true, name: "name" });
  const identifier = h("input.mono", { type: "text", required: true, name: "identifier", spellcheck: "false", placeholder: "https://api.example.com/" });
  const errs = h("div");
  const form = h("form.card", { "aria-labelledby": "newapi-h", onsubmit: async (e) => {
    e.preventDefault();
    errs.replaceChildren();
    setFieldError(name, "");
    setFieldError(identifier, "");
    try {
      const a = (await gql(`mutation C($input: CreateResourceServerInput!) { createResourceServer(input: $input) { id name } }`,
        { input: { name: name.value.trim(), identifier: identifier.value.trim() } })).createResourceServer;
      toast("API " + a.name + " created.");
      go("#/apis/" + encodeURIComponent(a.id));
    } catch (err) { showErrors(err, { name, identifier }, errs); }
  } },
    h("h2#newapi-h", "New API"),
    h("div.grid", field("Name", name), field("Identifier", identifier, "The audience clients ask tokens for; it cannot change later.")),
    errs,
    h("div.actions", h("button", { type: "submit" }, "Create API")));

  return h("section",
    h("h1", "APIs"),
    h("div.table-wrap", h("table",
      h("caption.sr-only", "APIs"),
      h("thead", h("tr", ["Name", "Identifier (audience)", "Permissions", "RBAC", "Token dialect", "Created"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 6 }, "No APIs."))))),
    can("create:resource_servers") ? form : null);
}

export async function apiPage(id) {
  const a = (await gql(`query A($id: ID!) { resourceServer(id: $id) { ${API_FIELDS} } }`, { id })).resourceServer;
  const page = h("section");
  renderAPI(page, a);
  return page;
}

function renderAPI(page, a) {
  page.replaceChildren(h("p", h("a", { href: "#/apis" }, "← APIs")));
  page.append(
    h("h1", a.name, a.system ? h("span.badge", " built in") : null),
    h("p.muted", a.system ? "The management API is built in: it cannot be changed, and its scopes are granted to administrators and clients, never through roles." : null),
    h("div.grid", settingsCard(page, a), permissionsCard(page, a)),
    a.system ? h("div") : deleteCard(a));
}

function settingsCard(page, a) {
  const ro = a.system || !can("update:resource_servers");
  const name = h("input", { type: "text", name: "name", value: a.name, required: true, disabled: ro });
  const lifetime = h("input", { type: "text", inputmode: "numeric", name: "tokenLifetime", value: String(a.tokenLifetime), disabled: ro });
  const offline = h("input", { type: "checkbox", name: "allowOfflineAccess", checked: a.allowOfflineAccess, disabled: ro });
  const enforce = h("input", { type: "checkbox", name: "enforcePolicies", checked: a.enforcePolicies, disabled: ro });
  const dialect = h("select", { name: "tokenDialect", disabled: ro },
    DIALECTS.map(([v, l]) => h("option", { value: v, selected: v === a.tokenDialect }, l)));
  const clients = h("textarea.mono", { rows: 2, name: "introspectionClients", spellcheck: "false", disabled: ro });
  clients.value = a.introspectionClients.join("\n");
  const warn = h("p.warn", { id: "dialect-warn" });
  const errs = h("div");

  // The _authz dialects need enforcePolicies: offer them only with it on.
  // A stored _authz dialect stays selected so that saving shows why the
  // server refuses it.
  const sync = () => {
    for (const o of dialect.options) o.disabled = needsPolicies(o.value) && !enforce.checked;
    warn.textContent = needsPolicies(dialect.value) && !enforce.checked
      ? dialect.value + " needs Enforce policies; turn it on or choose another dialect." : "";
  };
  enforce.addEventListener("change", sync);
  dialect.addEventListener("change", sync);
  sync();

  const check = (c, label, hint) => h("div.field.check", c, h("label", { for: c.id || (c.id = "f-" + c.name) }, label),
    hint ? h("p.hint", hint) : null, h("p.field-error", { id: c.id + "-err", role: "alert" }));
  const controls = { name, tokenLifetime: lifetime, allowOfflineAccess: offline, enforcePolicies: enforce, tokenDialect: dialect, introspectionClients: clients };
  const form = h("form", { "aria-labelledby": "api-settings-h", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errs.replaceChildren();
    for (const c of Object.values(controls)) setFieldError(c, "");
    const ttl = Number(lifetime.value.trim());
    if (!Number.isInteger(ttl) || ttl <= 0) { setFieldError(lifetime, "A whole number of seconds."); lifetime.focus(); return; }
    try {
      const na = (await gql(UPDATE, { id: a.id, input: {
        name: name.value.trim(), tokenLifetime: ttl, allowOfflineAccess: offline.checked,
        enforcePolicies: enforce.checked, tokenDialect: dialect.value,
        introspectionClients: clients.value.split(/[\s,]+/).filter(Boolean),
      } })).updateResourceServer;
      toast("API settings saved.");
      renderAPI(page, na);
    } catch (err) { showErrors(err, controls, errs); }
  } },
    h("h2#api-settings-h", "Settings"),
    h("p", "Identifier: ", h("code", a.identifier)),
    field("Name", name),
    field("Access token lifetime (seconds)", lifetime),
    check(offline, "Allow offline access (refresh tokens)"),
    h("fieldset", h("legend", "RBAC"),
      check(enforce, "Enforce policies", "A user's token for this API carries only the requested scopes the user holds as permissions, directly or through roles."),
      field("Token dialect", dialect, "The _authz dialects add a permissions claim and need Enforce policies."),
      warn),
    field("Introspection clients", clients, "client_ids that may introspect this API's tokens besides each token's own client; one per line."),
    errs,
    ro ? null : h("div.actions", h("button", { type: "submit" }, "Save settings")));
  return h("section.card", form);
}

function permissionsCard(page, a) {
  const ro = a.system || !can("update:resource_servers");
  const status = h("div", { "aria-live": "polite" });
  // Scopes are replaced as a whole list through updateResourceServer.
  const save = async (scopes, done) => {
    status.replaceChildren();
    try {
      const na = (await gql(UPDATE, { id: a.id, input: { scopes: scopes.map((s) => ({ value: s.value, description: s.description })) } })).updateResourceServer;
      toast(done);
      renderAPI(page, na);
      return true;
    } catch (err) { status.replaceChildren(errorBox(err)); return false; }
  };
  const rows = a.scopes.map((s) => h("tr",
    h("td", h("code", s.value)),
    h("td", s.description || "—"),
    ro ? null : h("td", h("button.danger", { type: "button", "aria-label": "Remove permission " + s.value, onclick: async () => {
      if (!confirm("Remove the permission " + s.value + "? Roles and users holding it lose it.")) return;
      await save(a.scopes.filter((x) => x.value !== s.value), "Permission " + s.value + " removed.");
    } }, "Remove"))));
  const value = h("input.mono", { type: "text", name: "scope", spellcheck: "false", placeholder: "read:invoices" });
  const desc = h("input", { type: "text", name: "scopeDescription" });
  const add = h("form.inline", { "aria-label": "Add a permission", onsubmit: async (e) => {
    e.preventDefault();
    const v = value.value.trim();
    setFieldError(value, "");
    if (!v) { setFieldError(value, "Enter the scope's value."); value.focus(); return; }
    if (a.scopes.some((s) => s.value === v)) { setFieldError(value, "The API already declares " + v + "."); value.focus(); return; }
    if (await save(a.scopes.concat([{ value: v, description: desc.value.trim() }]), "Permission " + v + " added.")) {
      const again = document.querySelector('input[name="scope"]');
      if (again) again.focus();
    }
  } }, field("Permission (scope)", value), field("Description", desc), h("button", { type: "submit" }, "Add"));
  return h("section.card", { "aria-labelledby": "api-perms-h", id: "api-permissions" },
    h("h2#api-perms-h", "Permissions"),
    h("p.hint", "The scopes this API declares. Roles and users get permissions from this list."),
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Permission", "Description", ro ? null : ""].filter((t) => t !== null).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 3 }, "No permissions yet."))))),
    status,
    ro ? null : add);
}

function deleteCard(a) {
  const status = h("div");
  return h("section.card", { "aria-labelledby": "api-del-h" },
    h("h2#api-del-h", "Delete API"),
    h("p", "Tokens can no longer be issued for ", h("code", a.identifier), "."),
    status,
    h("button.danger", { type: "button", disabled: !can("delete:resource_servers"), onclick: async () => {
      if (!confirm("Delete the API " + a.name + "? This cannot be undone.")) return;
      try {
        await gql(`mutation D($id: ID!) { deleteResourceServer(id: $id) }`, { id: a.id });
        toast("API " + a.name + " deleted.");
        go("#/apis");
      } catch (err) { status.replaceChildren(errorBox(err)); }
    } }, "Delete API…"));
}
