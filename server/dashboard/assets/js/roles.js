// Roles: list with a name filter, create, and a role's page (settings,
// permissions, members, delete).
import { gql } from "./api.js";
import { h, field, setFieldError, fmtDate, toast, errorBox, params, go } from "./dom.js";
import { can } from "./auth.js";
import { PERMISSION_FIELDS, loadAPIs, permKey, permissionPicker } from "./perms.js";

const PAGE = 20;
const MEMBERS = 20;

const ROLES = `query Roles($q: String, $first: Int, $after: Cursor, $last: Int, $before: Cursor) {
  roles(nameFilter: $q, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id name description createdAt } }
  }
}`;
const ROLE_FIELDS = `id name description createdAt updatedAt permissions { ${PERMISSION_FIELDS} }`;

export async function rolesPage() {
  const p = params();
  const q = p.get("q") || "";
  const vars = { q: q || null };
  if (p.get("before")) Object.assign(vars, { last: PAGE, before: p.get("before") });
  else Object.assign(vars, { first: PAGE, after: p.get("after") || null });

  const input = h("input", { type: "search", name: "q", value: q, autocomplete: "off", spellcheck: "false" });
  const search = h("form.search", { role: "search", onsubmit: (e) => { e.preventDefault(); go("#/roles", { q: input.value.trim() }); } },
    field("Filter roles by name", input), h("button", { type: "submit" }, "Filter"));
  const page = h("section", h("h1", "Roles"), search);
  const d = (await gql(ROLES, vars)).roles;
  page.append(h("p.muted", { id: "role-count" }, `${d.totalCount} role${d.totalCount === 1 ? "" : "s"}${q ? " match" : ""}`));
  const rows = d.edges.map(({ node: r }) => h("tr",
    h("td", h("a", { href: "#/roles/" + encodeURIComponent(r.id) }, r.name)),
    h("td", r.description || "—"),
    h("td", fmtDate(r.createdAt))));
  page.append(h("div.table-wrap", h("table",
    h("caption.sr-only", "Roles"),
    h("thead", h("tr", ["Name", "Description", "Created"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 3 }, "No roles."))))));
  const pi = d.pageInfo;
  page.append(h("nav.pager", { "aria-label": "Pages" },
    h("button", { type: "button", disabled: !(pi.hasPreviousPage || p.get("after")), onclick: () => go("#/roles", { q, before: pi.startCursor }) }, "← Previous"),
    h("button", { type: "button", disabled: !(pi.hasNextPage || p.get("before")), onclick: () => go("#/roles", { q, after: pi.endCursor }) }, "Next →")));

  const name = h("input", { type: "text", name: "name", required: true, maxlength: 200 });
  const description = h("input", { type: "text", name: "description", maxlength: 1000 });
  const errs = h("div");
  if (can("create:roles")) page.append(h("form.card", { "aria-labelledby": "newrole-h", onsubmit: async (e) => {
    e.preventDefault();
    errs.replaceChildren();
    setFieldError(name, "");
    try {
      const r = (await gql(`mutation C($input: CreateRoleInput!) { createRole(input: $input) { id name } }`,
        { input: { name: name.value.trim(), description: description.value.trim() } })).createRole;
      toast("Role " + r.name + " created.");
      go("#/roles/" + encodeURIComponent(r.id));
    } catch (err) {
      const fe = err.fieldErrors ? err.fieldErrors() : {};
      if (fe.name) { setFieldError(name, fe.name); name.focus(); } else errs.replaceChildren(errorBox(err));
    }
  } },
    h("h2#newrole-h", "New role"),
    h("div.grid", field("Name", name), field("Description", description)),
    errs,
    h("div.actions", h("button", { type: "submit" }, "Create role"))));
  return page;
}

export async function rolePage(id) {
  const [r, apis] = await Promise.all([
    gql(`query R($id: ID!) { role(id: $id) { ${ROLE_FIELDS} } }`, { id }).then((d) => d.role),
    loadAPIs().catch(() => null), // needs read:resource_servers, for the picker only
  ]);
  const page = h("section");
  renderRole(page, r, apis);
  return page;
}

function renderRole(page, r, apis) {
  page.replaceChildren(
    h("p", h("a", { href: "#/roles" }, "← Roles")),
    h("h1", r.name),
    h("div.grid", settingsCard(page, r, apis), deleteCard(r)),
    permissionsCard(page, r, apis),
    membersCard(r));
}

function settingsCard(page, r, apis) {
  const ro = !can("update:roles");
  const name = h("input", { type: "text", name: "name", value: r.name, required: true, maxlength: 200, disabled: ro });
  const description = h("textarea", { rows: 2, name: "description", maxlength: 1000, disabled: ro });
  description.value = r.description;
  const errs = h("div");
  return h("section.card", h("form", { "aria-labelledby": "role-settings-h", onsubmit: async (e) => {
    e.preventDefault();
    errs.replaceChildren();
    setFieldError(name, "");
    try {
      const nr = (await gql(`mutation U($id: ID!, $input: UpdateRoleInput!) { updateRole(id: $id, input: $input) { ${ROLE_FIELDS} } }`,
        { id: r.id, input: { name: name.value.trim(), description: description.value.trim() } })).updateRole;
      toast("Role saved.");
      renderRole(page, nr, apis);
    } catch (err) {
      const fe = err.fieldErrors ? err.fieldErrors() : {};
      if (fe.name) { setFieldError(name, fe.name); name.focus(); } else errs.replaceChildren(errorBox(err));
    }
  } },
    h("h2#role-settings-h", "Settings"),
    h("p", "Id: ", h("code", r.id), " · created ", fmtDate(r.createdAt)),
    field("Name", name),
    field("Description", description),
    errs,
    ro ? null : h("div.actions", h("button", { type: "submit" }, "Save"))));
}

function deleteCard(r) {
  const status = h("div");
  return h("section.card", { "aria-labelledby": "role-del-h" },
    h("h2#role-del-h", "Delete role"),
    h("p", "Its members lose the permissions they hold through it."),
    status,
    h("button.danger", { type: "button", id: "delete-role", disabled: !can("delete:roles"), onclick: async () => {
      if (!confirm("Delete the role " + r.name + "? This cannot be undone.")) return;
      try {
        await gql(`mutation D($id: ID!) { deleteRole(id: $id) }`, { id: r.id });
        toast("Role " + r.name + " deleted.");
        go("#/roles");
      } catch (err) { status.replaceChildren(errorBox(err)); }
    } }, "Delete role…"));
}

function permissionsCard(page, r, apis) {
  const ro = !can("update:roles");
  const status = h("div", { "aria-live": "polite" });
  const change = async (mutation, perm, done) => {
    status.replaceChildren();
    try {
      const nr = (await gql(`mutation P($id: ID!, $p: [PermissionInput!]!) { ${mutation}(id: $id, permissions: $p) { ${ROLE_FIELDS} } }`,
        { id: r.id, p: [perm] }))[mutation];
      toast(done);
      renderRole(page, nr, apis);
    } catch (err) { status.replaceChildren(errorBox(err)); }
  };
  const rows = r.permissions.map((p) => h("tr",
    h("td", h("code", p.permissionName)),
    h("td", p.resourceServerName, h("br"), h("span.mono.muted", p.resourceServerIdentifier)),
    h("td", p.description || "—"),
    ro ? null : h("td", h("button.danger", { type: "button", "aria-label": "Remove permission " + p.permissionName + " of " + p.resourceServerName,
      onclick: () => change("removeRolePermissions", { resourceServerIdentifier: p.resourceServerIdentifier, permissionName: p.permissionName }, "Permission " + p.permissionName + " removed.") }, "Remove"))));
  const held = new Set(r.permissions.map(permKey));
  return h("section.card", { "aria-labelledby": "role-perms-h", id: "role-permissions" },
    h("h2#role-perms-h", "Permissions"),
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Permission", "API", "Description"].concat(ro ? [] : [""]).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 4 }, "No permissions yet."))))),
    status,
    ro || !apis ? null : permissionPicker(apis, held, (perm) => change("addRolePermissions", perm, "Permission " + perm.permissionName + " added."), true));
}

// membersCard pages through the role's users (forward only, as the API
// pages them) and adds or removes members.
function membersCard(r) {
  const body = h("div", h("p.muted", "Loading…"));
  const status = h("div", { "aria-live": "polite" });
  const cursors = [null]; // after-cursor of each page seen, for going back
  let at = 0;
  const canRemove = can("update:users") && can("delete:role_members");

  async function load() {
    let d;
    try {
      d = (await gql(`query M($id: ID!, $first: Int, $after: Cursor) { role(id: $id) { users(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id userId email name } } } } }`,
      { id: r.id, first: MEMBERS, after: cursors[at] })).role.users;
    } catch (err) { body.replaceChildren(errorBox(err)); return; }
    const rows = d.edges.map(({ node: u }) => h("tr",
      h("td", h("a", { href: "#/users/" + encodeURIComponent(u.id) }, u.email || u.name || u.userId)),
      h("td.mono", u.userId),
      canRemove ? h("td", h("button.danger", { type: "button", "aria-label": "Remove " + (u.email || u.userId) + " from the role", onclick: async () => {
        status.replaceChildren();
        try {
          await gql(`mutation R($u: ID!, $r: [ID!]!) { removeUserRoles(userId: $u, roleIds: $r) { id } }`, { u: u.id, r: [r.id] });
          toast((u.email || u.userId) + " removed from " + r.name + ".");
          load();
        } catch (err) { status.replaceChildren(errorBox(err)); }
      } }, "Remove")) : null));
    body.replaceChildren(
      h("p.muted", { id: "member-count" }, `${d.totalCount} member${d.totalCount === 1 ? "" : "s"}`),
      h("div.table-wrap", h("table",
        h("thead", h("tr", ["User", "user_id"].concat(canRemove ? [""] : []).map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 3 }, "No members."))))),
      h("nav.pager", { "aria-label": "Member pages" },
        h("button", { type: "button", disabled: at === 0, onclick: () => { at--; load(); } }, "← Previous"),
        h("button", { type: "button", disabled: !d.pageInfo.hasNextPage, onclick: () => { cursors[at + 1] = d.pageInfo.endCursor; at++; load(); } }, "Next →")));
  }
  load();

  // Add members by user_id / node id, or by email (looked up first).
  const who = h("input.mono", { type: "text", name: "member", autocomplete: "off", spellcheck: "false", placeholder: "user@example.com, auth0|… or usr_…" });
  const add = h("form.inline", { "aria-label": "Add members", onsubmit: async (e) => {
    e.preventDefault();
    setFieldError(who, "");
    status.replaceChildren();
    const entries = who.value.split(/[\s,]+/).filter(Boolean);
    if (!entries.length) { setFieldError(who, "Enter a user_id or an email."); who.focus(); return; }
    try {
      const ids = [];
      for (const x of entries) {
        if (!x.includes("@") || x.includes("|")) { ids.push(x); continue; }
        const found = (await gql(`query E($e: String!) { usersByEmail(email: $e) { id } }`, { e: x })).usersByEmail;
        // An email may belong to users of several connections: ask for the
        // user_id rather than guess.
        if (found.length !== 1) {
          setFieldError(who, found.length ? found.length + " users have the email " + x + "; enter the user_id instead." : "No user has the email " + x + ".");
          who.focus();
          return;
        }
        ids.push(found[0].id);
      }
      await gql(`mutation A($id: ID!, $u: [ID!]!) { assignRoleUsers(id: $id, userIds: $u) { id } }`, { id: r.id, u: ids });
      toast(ids.length === 1 ? "Member added." : ids.length + " members added.");
      who.value = "";
      load();
    } catch (err) {
      const fe = err.fieldErrors ? err.fieldErrors() : {};
      if (fe.userIds) { setFieldError(who, fe.userIds); who.focus(); } else status.replaceChildren(errorBox(err));
    }
  } }, field("Add users (user_id or email; several separated by spaces)", who), h("button", { type: "submit" }, "Add"));
  return h("section.card", { "aria-labelledby": "role-members-h", id: "role-members" },
    h("h2#role-members-h", "Members"),
    body, status,
    can("update:users") && can("create:role_members") ? add : null);
}
