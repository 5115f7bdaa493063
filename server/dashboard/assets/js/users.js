import { gql } from "./api.js";
import { h, field, fmtDate, errorBox, params, go } from "./dom.js";
import { searchExamples } from "./auth.js";

const PAGE = 20;

const USERS = `query Users($q: String, $first: Int, $after: Cursor, $last: Int, $before: Cursor) {
  users(query: $q, first: $first, after: $after, last: $last, before: $before,
        orderBy: [{field: CREATED_AT, direction: DESC}]) {
    totalCount totalCountIsEstimate
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id userId email name blocked lastLogin loginsCount identities { provider } } }
  }
}`;

export async function usersPage() {
  const p = params();
  const q = p.get("q") || "";
  const vars = { q: q || null };
  if (p.get("before")) Object.assign(vars, { last: PAGE, before: p.get("before") });
  else Object.assign(vars, { first: PAGE, after: p.get("after") || null });

  // Every example shown comes from the server's list, which the search
  // tests run (server/dashboard/examples.go).
  const examples = searchExamples();
  const input = h("input", { type: "search", name: "q", value: q, placeholder: examples[0] || "", autocomplete: "off", spellcheck: "false" });
  const hint = h("span", { id: "search-examples" }, "Examples: ");
  examples.forEach((ex, i) => {
    if (i > 0) hint.append(", ");
    hint.append(h("code", ex));
  });
  hint.append(". Terms combine with AND / OR / NOT.");
  const form = h("form.search", { role: "search", onsubmit: (e) => { e.preventDefault(); go("#/users", { q: input.value.trim() }); } },
    field("Search users", input, hint),
    h("button", { type: "submit" }, "Search"));

  const page = h("section", h("h1", "Users"), form);
  let data;
  try {
    data = (await gql(USERS, vars)).users;
  } catch (err) {
    const fe = err.fieldErrors ? err.fieldErrors() : {};
    page.append(errorBox(err));
    if (fe.query) input.setAttribute("aria-invalid", "true");
    return page;
  }
  // Beyond 10,000 users Postgres estimates the count rather than counting.
  const count = (data.totalCountIsEstimate ? "about " : "") + data.totalCount.toLocaleString("en");
  page.append(h("p.muted", { id: "result-count" }, `${count} user${data.totalCount === 1 ? "" : "s"}${q ? " match" : ""}`));
  const rows = data.edges.map(({ node: u }) => h("tr",
    h("td", h("a", { href: "#/users/" + encodeURIComponent(u.id) }, u.email || u.name || u.userId)),
    h("td.mono", u.userId),
    h("td", u.identities.map((i) => i.provider).join(", ")),
    h("td", u.blocked ? h("span.badge.danger", "blocked") : h("span.badge", "active")),
    h("td", fmtDate(u.lastLogin)),
    h("td.num", String(u.loginsCount))));
  page.append(h("div.table-wrap", h("table",
    h("caption.sr-only", "Users"),
    h("thead", h("tr", ["User", "user_id", "Identities", "Status", "Last login", "Logins"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 6 }, "No users."))))));
  const pi = data.pageInfo;
  page.append(h("nav.pager", { "aria-label": "Pages" },
    h("button", { type: "button", disabled: !(pi.hasPreviousPage || p.get("after")), onclick: () => go("#/users", { q, before: pi.startCursor }) }, "← Previous"),
    h("button", { type: "button", disabled: !(pi.hasNextPage || p.get("before")), onclick: () => go("#/users", { q, after: pi.endCursor }) }, "Next →")));
  return page;
}
