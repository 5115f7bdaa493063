import { gql, ApiError } from "./api.js";
import { h, field, setFieldError, fmtDate, json, toast, errorBox, go } from "./dom.js";
import { can } from "./auth.js";

// Option fields per strategy, mirroring connections/options.go (the API
// validates again). kind: bool | string | url | enum | strings | object;
// secret options are write-only: the API only says whether they are set.
const COMMON = [
  ["set_user_root_attributes", "enum", "When to copy profile fields from the connection", ["on_each_login", "on_first_login", "never_on_login"]],
  ["domain_aliases", "strings", "Email domains routed to this connection (comma-separated)"],
];
const STRATEGIES = {
  database: [
    ["requires_username", "bool", "Users also have a username"],
    ["disable_signup", "bool", "Disable self sign-up"],
    ["passwordPolicy", "enum", "Password policy", ["none", "low", "fair", "good", "excellent"]],
    ["brute_force_protection", "bool", "Brute-force protection"],
    ["password_history", "object", 'Password history, e.g. {"enable": true, "size": 5}'],
    ["password_dictionary", "object", 'Password dictionary, e.g. {"enable": true}'],
    ["password_no_personal_info", "object", 'No personal info in passwords, e.g. {"enable": true}'],
    ["upgrade_password_hashes", "bool", "Upgrade imported password hashes at login"],
  ],
  oidc: [
    ["preset", "enum", "Preset", ["", "github", "google"]],
    ["discovery_url", "url", "Discovery URL (…/.well-known/openid-configuration)"],
    ["issuer", "url", "Issuer"],
    ["client_id", "string", "Client id"],
    ["client_secret", "secret", "Client secret"],
    ["scope", "string", "Scopes (space-separated)"],
    ["trust_email_verified", "bool", "Trust the provider's email_verified"],
    ["authorization_endpoint", "url", "Authorization endpoint (without discovery)"],
    ["token_endpoint", "url", "Token endpoint (without discovery)"],
    ["userinfo_endpoint", "url", "Userinfo endpoint (without discovery)"],
    ["attribute_map", "object", "Attribute map (JSON)"],
  ],
  saml: [
    ["metadataUrl", "url", "IdP metadata URL"],
    ["metadataXml", "text", "IdP metadata XML"],
    ["signInEndpoint", "url", "Sign-in endpoint (without metadata)"],
    ["signingCert", "text", "IdP signing certificate (PEM, without metadata)"],
    ["user_id_attribute", "string", "User id attribute"],
    ["signSAMLRequest", "bool", "Sign authentication requests"],
    ["fieldsMap", "object", "Attribute mapping (JSON)"],
    ["idpinitiated", "object", 'IdP-initiated login, e.g. {"enabled": false}'],
    ["allow_sha1", "bool", "Accept SHA-1 signatures (legacy IdPs)"],
  ],
  ldap: [
    ["preset", "enum", "Preset", ["", "openldap", "active_directory"]],
    ["url", "url", "Server URL (ldaps://host:636 or ldap://host:389)"],
    ["start_tls", "bool", "Use StartTLS"],
    ["bind_dn", "string", "Service account DN"],
    ["bind_password", "secret", "Service account password"],
    ["user_search_base", "string", "User search base"],
    ["user_search_filter", "string", "User search filter"],
    ["username_attribute", "string", "Username attribute"],
    ["group_search_base", "string", "Group search base"],
    ["group_search_filter", "string", "Group search filter"],
    ["ca_cert", "text", "CA certificate (PEM)"],
    ["allow_insecure", "bool", "Allow plain LDAP without TLS (testing only)"],
  ],
  customdb: [
    ["dsn", "secret", "Database DSN"],
    ["import_mode", "bool", "Import users on first login"],
    ["scripts", "secretobject", "Scripts (JSON object: login, get_user…)"],
  ],
};

const LIST = `{ connections(first: 100, orderBy: {field: NAME, direction: ASC}) {
  edges { node { id name strategy enabledClients secretsSet createdAt } } } }`;
const ONE = `query C($id: ID!) { connection(id: $id) { id name strategy options secretsSet enabledClients createdAt updatedAt } }`;
const CLIENTS = `{ clients(first: 100) { edges { node { clientId name type system } } } }`;

export async function connectionsPage() {
  const d = await gql(LIST);
  const rows = d.connections.edges.map(({ node: c }) => h("tr",
    h("td", h("a", { href: "#/connections/" + encodeURIComponent(c.id) }, c.name)),
    h("td", c.strategy),
    h("td.num", String(c.enabledClients.length)),
    h("td", fmtDate(c.createdAt))));
  return h("section",
    h("h1", "Connections"),
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Name", "Strategy", "Applications", "Created"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows))),
    can("create:connections") ? createForm() : null);
}

function createForm() {
  const name = h("input", { type: "text", required: true, autocomplete: "off" });
  const strategy = h("select", Object.keys(STRATEGIES).map((s) => h("option", { value: s }, s)));
  const opts = h("div");
  const err = h("div");
  let controls = {};
  const draw = () => { controls = {}; opts.replaceChildren(optionFields(strategy.value, {}, [], controls)); };
  strategy.addEventListener("change", draw);
  draw();
  const form = h("form.card", { "aria-labelledby": "newconn-h", onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    const options = collect(controls, {}, [], err);
    if (!options) return;
    try {
      const c = (await gql(`mutation N($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
        { input: { name: name.value.trim(), strategy: strategy.value, options } })).createConnection;
      toast("Connection created.");
      go("#/connections/" + encodeURIComponent(c.id));
    } catch (ex) {
      showErrors(ex, Object.assign({ name }, controls), err);
    }
  } },
    h("h2#newconn-h", "New connection"),
    h("div.grid", field("Name", name), field("Strategy", strategy)),
    opts, err,
    h("div.actions", h("button", { type: "submit" }, "Create connection")));
  return form;
}

// optionFields renders the strategy's options as typed inputs.
function optionFields(strategy, values, secretsSet, controls) {
  const specs = (STRATEGIES[strategy] || []).concat(COMMON);
  return h("fieldset", h("legend", strategy + " options"), specs.map(([key, kind, label, choices]) => {
    const v = values[key];
    let c;
    let hint = h("span", h("code", key));
    switch (kind) {
      case "bool":
        c = h("input", { type: "checkbox", checked: v === true });
        break;
      case "enum":
        c = h("select", [""].concat(choices.filter(Boolean)).map((o) => h("option", { value: o, selected: o === (v || "") }, o || "(default)")));
        break;
      case "strings":
        c = h("input", { type: "text", value: Array.isArray(v) ? v.join(", ") : "" });
        break;
      case "object":
        c = h("textarea.mono", { rows: 3, spellcheck: "false" });
        c.value = v === undefined ? "" : json(v);
        break;
      case "text":
        c = h("textarea.mono", { rows: 3, spellcheck: "false" });
        c.value = v || "";
        break;
      case "secret":
      case "secretobject": {
        const set = secretsSet.includes(key);
        c = kind === "secret" ? h("input", { type: "password", autocomplete: "new-password", placeholder: set ? "•••••• (set — leave empty to keep)" : "not set" })
          : h("textarea.mono", { rows: 3, spellcheck: "false", placeholder: set ? "(set — leave empty to keep)" : "not set" });
        hint = h("span", h("code", key), " — write-only: ", set ? h("strong.secret-set", "set") : h("strong.secret-unset", "not set"));
        break;
      }
      default:
        c = h("input", { type: kind === "url" ? "url" : "text", value: v || "", spellcheck: "false" });
    }
    c.name = key;
    c.dataset.kind = kind;
    controls[key] = c;
    if (kind === "bool") {
      c.id = "opt-" + key + "-" + Math.random().toString(36).slice(2, 7);
      return h("div.field.check", c, h("label", { for: c.id }, label), h("p.hint", hint), h("p.field-error", { id: c.id + "-err", role: "alert" }));
    }
    return field(label, c, hint);
  }));
}

// collect returns the options that changed (null removes a key), or null
// after marking invalid JSON fields.
function collect(controls, before, secretsSet, err) {
  const out = {};
  let ok = true;
  for (const [key, c] of Object.entries(controls)) {
    const kind = c.dataset.kind;
    let v;
    if (kind === "bool") v = c.checked;
    else if (kind === "strings") v = c.value.split(",").map((s) => s.trim()).filter(Boolean);
    else if (kind === "object" || kind === "secretobject") {
      if (c.value.trim() === "") v = undefined;
      else {
        try { v = JSON.parse(c.value); setFieldError(c, ""); } catch (e) { setFieldError(c, "Not valid JSON: " + e.message); ok = false; continue; }
      }
    } else v = c.value.trim() === "" ? undefined : c.value.trim();
    if (kind === "secret" || kind === "secretobject") {
      if (v !== undefined) out[key] = v; // empty keeps the stored secret
      continue;
    }
    const old = before[key];
    if (v === undefined || (Array.isArray(v) && v.length === 0 && old === undefined) || (v === false && old === undefined)) {
      if (old !== undefined) out[key] = null;
      continue;
    }
    if (JSON.stringify(v) !== JSON.stringify(old)) out[key] = v;
  }
  if (!ok) err.replaceChildren(h("div.alert", { role: "alert" }, "Fix the highlighted fields."));
  return ok ? out : null;
}

function showErrors(ex, controls, box) {
  const fe = ex instanceof ApiError ? ex.fieldErrors() : {};
  let shown = false;
  for (const [k, msg] of Object.entries(fe)) {
    if (controls[k]) { setFieldError(controls[k], msg); controls[k].focus(); shown = true; }
  }
  if (!shown) box.replaceChildren(errorBox(ex));
}

export async function connectionPage(id) {
  const [{ connection: c }, cl] = await Promise.all([gql(ONE, { id }), gql(CLIENTS).catch(() => null)]);
  const controls = {};
  const err = h("div");
  const apps = cl ? cl.clients.edges.map((e) => e.node).filter((a) => a.type !== "m2m") : [];
  const appBoxes = apps.map((a) => {
    const box = h("input", { type: "checkbox", value: a.clientId, checked: c.enabledClients.includes(a.clientId), id: "app-" + a.clientId });
    return h("div.field.check", box, h("label", { for: box.id }, a.name, a.system ? " (built in)" : ""));
  });
  const form = h("form.card", { "aria-labelledby": "opts-h", onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    const options = collect(controls, c.options, c.secretsSet, err);
    if (!options) return;
    const input = { options };
    if (cl) input.enabledClients = appBoxes.map((d) => d.querySelector("input")).filter((b) => b.checked).map((b) => b.value)
      .concat(c.enabledClients.filter((id) => !apps.some((a) => a.clientId === id)));
    try {
      await gql(`mutation U($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { id } }`, { id: c.id, input });
      toast("Connection saved.");
      location.reload();
    } catch (ex) {
      showErrors(ex, controls, err);
    }
  } },
    h("h2#opts-h", "Settings"),
    optionFields(c.strategy, c.options, c.secretsSet, controls),
    cl ? h("fieldset", h("legend", "Applications that may use this connection"), appBoxes) : null,
    err,
    h("div.actions", h("button", { type: "submit", disabled: !can("update:connections") }, "Save")));
  return h("section",
    h("p", h("a", { href: "#/connections" }, "← Connections")),
    h("h1", c.name),
    h("p.muted", `${c.strategy} · ${c.id} · updated ${fmtDate(c.updatedAt)}`),
    form);
}
