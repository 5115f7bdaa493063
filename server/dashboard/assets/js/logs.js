import { gql } from "./api.js";
import { h, field, fmtDate, json, errorBox, params, go } from "./dom.js";

const LOGS = `query Logs($where: LogFilter, $first: Int, $after: Cursor) {
  logs(where: $where, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id date type description clientName connection userId userName ip details } } } }`;

const TYPES = [["", "Any type"], ["s", "s — successful login"], ["f", "f — failed login"], ["fp", "fp — wrong password"],
  ["fu", "fu — unknown user"], ["ss", "ss — signup"], ["fs", "fs — failed signup"], ["sapi", "sapi — management API write"],
  ["limit_wc", "limit_wc — blocked by brute-force protection"], ["scp", "scp — password changed"], ["fcp", "fcp — failed password change"],
  ["gd_auth_succeed", "gd_auth_succeed — second factor accepted"], ["gd_auth_failed", "gd_auth_failed — second factor refused"],
  ["gd_enrollment_complete", "gd_enrollment_complete — MFA factor enrolled"], ["gd_recovery_succeed", "gd_recovery_succeed — recovery code used"],
  ["gd_otp_rate_limit_exceed", "gd_otp_rate_limit_exceed — MFA locked"]];

export async function logsPage() {
  const p = params();
  const type = h("select", { name: "type" }, TYPES.map(([v, l]) => h("option", { value: v, selected: v === (p.get("type") || "") }, l)));
  const user = h("input.mono", { type: "text", name: "user", value: p.get("user") || "", placeholder: "auth0|…" });
  const from = h("input", { type: "date", name: "from", value: p.get("from") || "" });
  const to = h("input", { type: "date", name: "to", value: p.get("to") || "" });
  const form = h("form.filters", { onsubmit: (e) => {
    e.preventDefault();
    go("#/logs", { type: type.value, user: user.value.trim(), from: from.value, to: to.value });
  } }, field("Type", type), field("User (user_id)", user), field("From (inclusive)", from), field("To (inclusive)", to),
  h("div.actions", h("button", { type: "submit" }, "Filter")));

  const where = {};
  if (p.get("type")) where.type = p.get("type");
  if (p.get("user")) where.userId = p.get("user");
  if (p.get("from")) where.from = new Date(p.get("from") + "T00:00:00").toISOString();
  if (p.get("to")) where.to = new Date(new Date(p.get("to") + "T00:00:00").getTime() + 86400000).toISOString();
  const page = h("section", h("h1", "Logs"), form);
  let d;
  try {
    d = (await gql(LOGS, { where, first: 50, after: p.get("after") || null })).logs;
  } catch (err) {
    page.append(errorBox(err));
    return page;
  }
  const rows = d.edges.map(({ node: e }) => {
    const details = h("details", h("summary", "Details"), h("pre", json(e.details || {})));
    return h("tr",
      h("td", fmtDate(e.date)), h("td", h("code", e.type)), h("td", e.description),
      h("td", e.userId ? h("a", { href: "#/users/" + encodeURIComponent(e.userId) }, e.userName || e.userId) : "—"),
      h("td", e.clientName || "—"), h("td", e.connection || "—"), h("td.mono", e.ip || "—"), h("td", details));
  });
  page.append(h("div.table-wrap", h("table",
    h("thead", h("tr", ["Date", "Type", "Description", "User", "Application", "Connection", "IP", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 8 }, "No events match."))))));
  const q = Object.fromEntries(p.entries());
  page.append(h("nav.pager", { "aria-label": "Pages" },
    p.get("after") ? h("button", { type: "button", onclick: () => history.back() }, "← Back") : null,
    h("button", { type: "button", disabled: !d.pageInfo.hasNextPage, onclick: () => go("#/logs", Object.assign(q, { after: d.pageInfo.endCursor })) }, "Older →")));
  return page;
}
