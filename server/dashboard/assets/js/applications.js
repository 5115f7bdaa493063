import { gql } from "./api.js";
import { h, field, fmtDate, toast, errorBox } from "./dom.js";
import { can } from "./auth.js";

const LIST = `{ clients(first: 100, orderBy: {field: NAME, direction: ASC}) {
  edges { node { id clientId name type system redirectUris webOrigins managementScopes createdAt } } } }`;

const lines = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

// secretPanel shows a secret once, with a copyable field.
function secretPanel(title, clientId, secret) {
  const input = h("input.mono", { type: "text", readonly: true, value: secret || "(public client: no secret)" });
  return h("div.card.secret", { role: "alert" },
    h("h2", title),
    h("p", "client_id: ", h("code", clientId)),
    field("Client secret — shown only now; store it safely", input));
}

export async function applicationsPage() {
  const page = h("section");
  const out = h("div", { "aria-live": "polite" });
  const d = await gql(LIST);
  const rows = d.clients.edges.map(({ node: c }) => h("tr",
    h("td", c.name, c.system ? h("span.badge", " built in") : null),
    h("td.mono", c.clientId),
    h("td", c.type),
    h("td", c.redirectUris.join(" ") || "—"),
    h("td", fmtDate(c.createdAt)),
    h("td", (c.type === "m2m" || c.type === "regular_web") ? h("button", {
      type: "button", disabled: !can("update:clients"), "aria-label": "Rotate the secret of " + c.name,
      onclick: async () => {
        if (!confirm("Rotate the secret of " + c.name + "? The old secret stops working at once.")) return;
        try {
          const r = (await gql(`mutation R($id: ID!) { rotateClientSecret(id: $id) { client { clientId } clientSecret } }`, { id: c.id })).rotateClientSecret;
          out.replaceChildren(secretPanel("New secret for " + c.name, r.client.clientId, r.clientSecret));
          out.querySelector("input").focus();
        } catch (err) { out.replaceChildren(errorBox(err)); }
      },
    }, "Rotate secret") : "—")));

  const name = h("input", { type: "text", required: true });
  const type = h("select", [["spa", "Single-page app"], ["regular_web", "Regular web app"], ["native", "Native app"], ["m2m", "Machine to machine"]]
    .map(([v, l]) => h("option", { value: v }, l)));
  const redirects = h("textarea.mono", { rows: 2, spellcheck: "false" });
  const origins = h("textarea.mono", { rows: 2, spellcheck: "false" });
  const scopes = h("input.mono", { type: "text", spellcheck: "false" });
  const createErr = h("div");
  const form = h("form.card", { "aria-labelledby": "newapp-h", onsubmit: async (e) => {
    e.preventDefault();
    createErr.replaceChildren();
    try {
      const r = (await gql(`mutation C($input: CreateClientInput!) { createClient(input: $input) { client { clientId name } clientSecret } }`, {
        input: { name: name.value.trim(), type: type.value, redirectUris: lines(redirects.value), webOrigins: lines(origins.value), managementScopes: lines(scopes.value) },
      })).createClient;
      toast("Application created.");
      const fresh = await applicationsPage();
      fresh.prepend(secretPanel("Created " + r.client.name, r.client.clientId, r.clientSecret));
      page.replaceWith(fresh);
      fresh.querySelector(".secret input").focus();
    } catch (err) { createErr.replaceChildren(errorBox(err)); }
  } },
    h("h2#newapp-h", "New application"),
    h("div.grid", field("Name", name), field("Type", type)),
    field("Allowed redirect URIs", redirects, "One per line."),
    field("Allowed web origins", origins, "scheme://host[:port], one per line (single-page apps)."),
    field("Management API scopes", scopes, "Space-separated, for machine-to-machine clients; you can grant only scopes you hold."),
    createErr,
    h("div.actions", h("button", { type: "submit" }, "Create application")));

  page.append(h("h1", "Applications"), out,
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Name", "client_id", "Type", "Redirect URIs", "Created", "Secret"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows))),
    can("create:clients") ? form : null);
  return page;
}
