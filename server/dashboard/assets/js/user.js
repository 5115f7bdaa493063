import { gql, ApiError } from "./api.js";
import { h, field, setFieldError, fmtDate, json, toast, errorBox, go, params } from "./dom.js";
import { mergeMetadata, parsePatch } from "./metadata.js";
import { can } from "./auth.js";
import { PERMISSION_FIELDS, loadAPIs, permKey, permissionPicker } from "./perms.js";

const USER_FIELDS = `id userId email emailVerified username phoneNumber phoneVerified name givenName familyName
  nickname picture blocked userMetadata appMetadata createdAt updatedAt lastLogin lastIp loginsCount lastPasswordReset
  identities { provider userId isSocial connection { name strategy } }`;

const USER = `query User($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`;
const LOGS = `query UserLogs($userId: String!) { logs(first: 10, where: {userId: $userId}) {
  edges { node { id date type description clientName connection ip } } } }`;
const UPDATE = `mutation UpdateUser($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { ${USER_FIELDS} } }`;

export async function userPage(id) {
  if (params().get("tab") === "roles") return userRolesPage(id);
  const u = (await gql(USER, { id })).user;
  const page = h("section");
  renderUser(page, u);
  return page;
}

// tabs links the user's pages: details and roles/permissions.
function tabs(u, current) {
  const href = "#/users/" + encodeURIComponent(u.id);
  return h("nav.tabs", { "aria-label": "User sections" },
    h("a", { href, "aria-current": current === "details" ? "page" : null }, "Details"),
    h("a", { href: href + "?tab=roles", "aria-current": current === "roles" ? "page" : null, "data-tab": "roles" }, "Roles"));
}

function renderUser(page, u) {
  page.replaceChildren(
    h("p", h("a", { href: "#/users" }, "← Users")),
    h("h1", u.email || u.name || u.userId, u.blocked ? h("span.badge.danger", " blocked") : null),
    tabs(u, "details"),
    h("div.grid",
      profileCard(u),
      actionsCard(page, u)),
    identitiesCard(page, u),
    mfaCard(u),
    h("div.grid",
      metadataCard(page, u, "userMetadata", "user_metadata", "Editable by the user too (updateMe)."),
      metadataCard(page, u, "appMetadata", "app_metadata", "Only administrators and rules write it.")),
    logsCard(u));
}

function dl(pairs) {
  return h("dl.props", pairs.map(([k, v]) => [h("dt", k), h("dd", v === null || v === undefined || v === "" ? "—" : v)]));
}

function profileCard(u) {
  return h("section.card", { "aria-labelledby": "profile-h" },
    h("h2#profile-h", "Profile"),
    dl([
      ["Node id", h("code", u.id)],
      ["user_id", h("code", u.userId)],
      ["Email", u.email ? `${u.email} (${u.emailVerified ? "verified" : "unverified"})` : null],
      ["Username", u.username],
      ["Phone", u.phoneNumber ? `${u.phoneNumber} (${u.phoneVerified ? "verified" : "unverified"})` : null],
      ["Name", u.name],
      ["Given / family name", [u.givenName, u.familyName].filter(Boolean).join(" / ")],
      ["Nickname", u.nickname],
      ["Created", fmtDate(u.createdAt)],
      ["Updated", fmtDate(u.updatedAt)],
      ["Last login", u.lastLogin ? `${fmtDate(u.lastLogin)} from ${u.lastIp || "?"}` : null],
      ["Logins", String(u.loginsCount)],
      ["Last password reset", u.lastPasswordReset ? fmtDate(u.lastPasswordReset) : null],
    ]));
}

function actionsCard(page, u) {
  const out = h("div.ticket-out", { "aria-live": "polite" });
  const block = h("button", {
    type: "button", id: "block-toggle", class: u.blocked ? "" : "danger",
    disabled: !can("update:users"),
    onclick: async () => {
      block.disabled = true;
      try {
        const nu = (await gql(UPDATE, { id: u.id, input: { blocked: !u.blocked } })).updateUser;
        toast(nu.blocked ? "User blocked: their sessions and tokens were revoked." : "User unblocked.");
        renderUser(page, nu);
      } catch (err) {
        block.disabled = false;
        out.replaceChildren(errorBox(err));
      }
    },
  }, u.blocked ? "Unblock user" : "Block user");

  const ticket = h("button", {
    type: "button", disabled: !can("create:user_tickets"),
    onclick: async () => {
      try {
        const t = (await gql(`mutation T($input: PasswordChangeTicketInput!) { createPasswordChangeTicket(input: $input) { ticket expiresAt } }`,
          { input: { userId: u.id } })).createPasswordChangeTicket;
        const link = h("input", { type: "text", readonly: true, value: t.ticket, class: "mono" });
        out.replaceChildren(field("Password-change link (send it to the user; valid until " + fmtDate(t.expiresAt) + ")", link));
        link.focus();
        link.select();
      } catch (err) {
        out.replaceChildren(errorBox(err));
      }
    },
  }, "Create password-change link");

  const dialog = deleteDialog(u);
  const del = h("button.danger", { type: "button", disabled: !can("delete:users"), onclick: () => dialog.showModal() }, "Delete user…");
  return h("section.card", { "aria-labelledby": "actions-h" },
    h("h2#actions-h", "Actions"),
    h("div.actions", block, ticket, del),
    out, dialog);
}

function deleteDialog(u) {
  const who = u.email || u.userId;
  const confirmInput = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const go_ = h("button.danger", { type: "submit", value: "delete" }, "Delete permanently");
  const err = h("div");
  const dialog = h("dialog", { "aria-labelledby": "del-h" },
    h("form", { method: "dialog", onsubmit: async (e) => {
      if (e.submitter && e.submitter.value !== "delete") return;
      e.preventDefault();
      if (confirmInput.value.trim() !== who) {
        setFieldError(confirmInput, "Type " + who + " exactly to confirm.");
        confirmInput.focus();
        return;
      }
      go_.disabled = true;
      try {
        await gql(`mutation D($id: ID!) { deleteUser(id: $id) }`, { id: u.id });
        dialog.close();
        toast("Deleted " + who + ".");
        go("#/users");
      } catch (ex) {
        go_.disabled = false;
        err.replaceChildren(errorBox(ex));
      }
    } },
      h("h2#del-h", "Delete " + who + "?"),
      h("p", "This deletes the user with their identities, credentials, sessions and grants. It cannot be undone."),
      field("Type " + who + " to confirm", confirmInput),
      err,
      h("div.actions", go_, h("button", { type: "submit", value: "cancel", formnovalidate: true }, "Cancel"))));
  return dialog;
}

function identitiesCard(page, u) {
  const status = h("div", { "aria-live": "polite" });
  const unlink = (i) => h("button", {
    type: "button", disabled: !can("update:users"), "aria-label": `Unlink ${i.provider} identity ${i.userId}`,
    onclick: async () => {
      if (!confirm(`Unlink the ${i.connection.name} identity ${i.userId}? It becomes a separate user without metadata.`)) return;
      try {
        const nu = (await gql(`mutation L($u: ID!, $c: String!, $i: String!) { unlinkIdentity(userId: $u, connection: $c, identityUserId: $i) { ${USER_FIELDS} } }`,
          { u: u.id, c: i.connection.name, i: i.userId })).unlinkIdentity;
        toast("Identity unlinked.");
        renderUser(page, nu);
      } catch (err) { status.replaceChildren(errorBox(err)); }
    },
  }, "Unlink");
  const secondary = h("input.mono", { type: "text", autocomplete: "off", placeholder: "usr_… or provider|id" });
  const link = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const other = secondary.value.trim();
    if (!other) { setFieldError(secondary, "Enter the user to link into this one."); secondary.focus(); return; }
    if (!confirm("Link " + other + " into " + (u.email || u.userId) + "? Its metadata is discarded and it leaves the user list.")) return;
    try {
      const nu = (await gql(`mutation K($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { ${USER_FIELDS} } }`, { p: u.id, s: other })).linkUser;
      toast("User linked.");
      renderUser(page, nu);
    } catch (err) {
      const fe = err.fieldErrors ? err.fieldErrors() : {};
      const msg = fe.secondaryId || fe.primaryId;
      if (msg) { setFieldError(secondary, msg); secondary.focus(); } else status.replaceChildren(errorBox(err));
    }
  } }, h("div.inline", field("Link another user's identities into this user", secondary), h("button", { type: "submit", disabled: !can("update:users") }, "Link")));
  return h("section.card", { "aria-labelledby": "ids-h" },
    h("h2#ids-h", "Identities"),
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Connection", "Strategy", "Provider", "Id at the connection", "Social", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", u.identities.map((i, n) => h("tr",
        h("td", i.connection ? i.connection.name : "—", n === 0 ? h("span.badge", " primary") : null),
        h("td", i.connection ? i.connection.strategy : "—"),
        h("td", i.provider),
        h("td.mono", i.userId),
        h("td", i.isSocial ? "yes" : "no"),
        h("td", n === 0 || !i.connection ? "" : unlink(i))))))),
    status,
    link);
}

const AUTHENTICATORS = `query Authenticators($id: ID!) { user(id: $id) { id authenticators { id type name createdAt lastUsedAt confirmed } } }`;
const FACTOR_LABELS = { TOTP: "Authenticator app", EMAIL: "Email code", RECOVERY_CODE: "Recovery codes", WEBAUTHN: "Security key" };

// mfaCard lists the user's second factors (loaded on their own, so a
// failure leaves the rest of the page usable) with removal, reset and an
// enrollment link.
function mfaCard(u) {
  const body = h("div", { "aria-live": "polite" }, h("p", "Loading…"));
  const out = h("div.ticket-out", { "aria-live": "polite" });
  const card = h("section.card#user-mfa", { "aria-labelledby": "mfa-h" }, h("h2#mfa-h", "Multi-factor authentication"), body, out);
  const load = async () => {
    try {
      const as = (await gql(AUTHENTICATORS, { id: u.id })).user.authenticators;
      body.replaceChildren(mfaTable(u, as, load, out), mfaActions(u, as, load, out));
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  };
  load();
  return card;
}

function mfaTable(u, as, reload, out) {
  if (as.length === 0) return h("p", "No second factor enrolled.");
  const remove = (a) => h("button", {
    type: "button", disabled: !can("update:users"), "aria-label": `Remove ${FACTOR_LABELS[a.type] || a.type} ${a.name}`,
    onclick: async () => {
      if (!confirm(`Remove ${FACTOR_LABELS[a.type] || a.type} (${a.name}) from ${u.email || u.userId}? Remembered browsers must pass the challenge again.`)) return;
      try {
        await gql(`mutation DA($u: ID!, $id: ID!) { deleteAuthenticator(userId: $u, id: $id) }`, { u: u.id, id: a.id });
        toast("Authenticator removed.");
        await reload();
      } catch (err) { out.replaceChildren(errorBox(err)); }
    },
  }, "Remove");
  return h("div.table-wrap", h("table",
    h("thead", h("tr", ["Factor", "Name", "Enrolled", "Last used", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", as.map((a) => h("tr", { "data-authenticator": a.id },
      h("td", FACTOR_LABELS[a.type] || a.type),
      h("td", a.name || "—"),
      h("td", fmtDate(a.createdAt)),
      h("td", a.lastUsedAt ? fmtDate(a.lastUsedAt) : "never"),
      h("td", a.confirmed ? h("span.badge", "active") : h("span.badge", "pending")),
      h("td", remove(a)))))));
}

function mfaActions(u, as, reload, out) {
  const reset = h("button.danger", {
    type: "button", id: "mfa-reset", disabled: !can("update:users") || as.length === 0,
    onclick: async () => {
      if (!confirm(`Remove every second factor and recovery code of ${u.email || u.userId}? They enroll again at their next login that needs one.`)) return;
      try {
        await gql(`mutation R($u: ID!) { resetMfa(userId: $u) }`, { u: u.id });
        toast("MFA reset.");
        await reload();
      } catch (err) { out.replaceChildren(errorBox(err)); }
    },
  }, "Reset MFA");
  const ticket = h("button", {
    type: "button", id: "mfa-ticket", disabled: !can("create:guardian_enrollment_tickets"),
    onclick: async () => {
      try {
        const t = (await gql(`mutation E($u: ID!) { createMfaEnrollmentTicket(userId: $u) { ticketUrl expiresAt } }`, { u: u.id })).createMfaEnrollmentTicket;
        const link = h("input", { type: "text", readonly: true, value: t.ticketUrl, class: "mono", name: "mfa-link" });
        out.replaceChildren(field("Enrollment link (send it to the user; works once, until " + fmtDate(t.expiresAt) + ")", link));
        link.focus();
        link.select();
      } catch (err) { out.replaceChildren(errorBox(err)); }
    },
  }, "Create enrollment link");
  return h("div.actions", ticket, reset);
}

// metadataCard: a JSON editor holding the PATCH sent to updateUser, with the
// merged result the API will store shown live before saving.
function metadataCard(page, u, key, label, note) {
  const current = u[key] || {};
  const editor = h("textarea", { rows: 10, spellcheck: "false", class: "mono", name: key, "data-metadata": key });
  editor.value = json(current);
  const preview = h("pre.preview", { id: key + "-preview", "aria-live": "polite" });
  const warn = h("p.warn");
  const save = h("button", { type: "submit", disabled: !can("update:users") }, "Save " + label);
  const status = h("div");

  function update() {
    const r = parsePatch(editor.value);
    if (r.error) {
      setFieldError(editor, r.error);
      preview.textContent = "—";
      warn.textContent = "";
      save.disabled = true;
      return null;
    }
    setFieldError(editor, "");
    save.disabled = !can("update:users");
    const merged = mergeMetadata(current, r.value);
    preview.textContent = json(merged);
    const removed = Object.keys(current).filter((k) => !(k in merged));
    warn.textContent = Object.keys(r.value).length === 0 && Object.keys(current).length > 0
      ? "An empty object clears every key."
      : removed.length ? "Removes: " + removed.join(", ") : "";
    return r.value;
  }
  editor.addEventListener("input", update);
  update();

  const form = h("form.metadata", { "aria-labelledby": key + "-h", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const patch = update();
    if (!patch) { editor.focus(); return; }
    save.disabled = true;
    status.replaceChildren();
    try {
      const nu = (await gql(UPDATE, { id: u.id, input: { [key]: patch } })).updateUser;
      toast(label + " saved.");
      renderUser(page, nu);
      const again = page.querySelector(`[data-metadata="${key}"]`);
      if (again) again.focus();
    } catch (err) {
      save.disabled = false;
      const fe = err instanceof ApiError ? err.fieldErrors() : {};
      if (fe[key]) {
        setFieldError(editor, fe[key]);
        editor.focus();
      } else {
        status.replaceChildren(errorBox(err));
      }
    }
  } },
    h("h2", { id: key + "-h" }, label),
    h("p.hint", note, " The text is the patch sent to the API: one level deep — a top-level key replaces its whole value, ", h("code", "null"), " deletes a key, ", h("code", "{}"), " clears everything."),
    field("Patch (JSON object)", editor),
    h("p.label", "Result after saving"),
    preview, warn, status,
    h("div.actions", save));
  return h("section.card", form);
}

function logsCard(u) {
  const body = h("div", h("p.muted", "Loading…"));
  gql(LOGS, { userId: u.userId }).then((d) => {
    const rows = d.logs.edges.map(({ node: e }) => h("tr",
      h("td", fmtDate(e.date)), h("td", h("code", e.type)), h("td", e.description),
      h("td", e.clientName || "—"), h("td", e.connection || "—"), h("td.mono", e.ip || "—")));
    body.replaceChildren(rows.length ? h("div.table-wrap", h("table",
      h("thead", h("tr", ["Date", "Type", "Description", "Application", "Connection", "IP"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows))) : h("p.muted", "No events."),
    h("p", h("a", { href: "#/logs?user=" + encodeURIComponent(u.userId) }, "All events of this user →")));
  }).catch((err) => body.replaceChildren(errorBox(err)));
  return h("section.card", { "aria-labelledby": "logs-h" }, h("h2#logs-h", "Recent events"), body);
}

// The Roles tab: the user's roles, and their effective permissions with
// where each comes from (assigned directly or through a role).
const RBAC = `query UserRBAC($id: ID!) { user(id: $id) { id userId email name blocked
  roles { id name description }
  permissions { ${PERMISSION_FIELDS} sources { type roleId roleName } } } }`;

async function userRolesPage(id) {
  // The pickers' lists need read:resource_servers and read:roles; without
  // them the tab still shows what the user holds.
  const [u, apis, roles] = await Promise.all([
    gql(RBAC, { id }).then((d) => d.user),
    loadAPIs().catch(() => null),
    gql(`{ roles(first: 100) { totalCount edges { node { id name } } } }`).then((d) => d.roles).catch(() => null),
  ]);
  const page = h("section");
  renderRoles(page, u, apis, roles);
  return page;
}

function renderRoles(page, u, apis, roles) {
  const refresh = async (done) => {
    const nu = (await gql(RBAC, { id: u.id })).user;
    toast(done);
    renderRoles(page, nu, apis, roles);
  };
  page.replaceChildren(
    h("p", h("a", { href: "#/users" }, "← Users")),
    h("h1", u.email || u.name || u.userId, u.blocked ? h("span.badge.danger", " blocked") : null),
    tabs(u, "roles"),
    userRolesCard(u, roles, refresh),
    userPermissionsCard(u, apis, refresh));
}

function userRolesCard(u, roles, refresh) {
  const status = h("div", { "aria-live": "polite" });
  const canRemove = can("update:users") && can("delete:role_members");
  const canAssign = can("update:users") && can("create:role_members");
  const call = async (mutation, roleId, done) => {
    status.replaceChildren();
    try {
      await gql(`mutation M($u: ID!, $r: [ID!]!) { ${mutation}(userId: $u, roleIds: $r) { id } }`, { u: u.id, r: [roleId] });
      await refresh(done);
    } catch (err) { status.replaceChildren(errorBox(err)); }
  };
  const rows = u.roles.map((r) => h("tr",
    h("td", h("a", { href: "#/roles/" + encodeURIComponent(r.id) }, r.name)),
    h("td", r.description || "—"),
    canRemove ? h("td", h("button.danger", { type: "button", "aria-label": "Remove the role " + r.name,
      onclick: () => call("removeUserRoles", r.id, "Role " + r.name + " removed.") }, "Remove")) : null));
  const assigned = new Set(u.roles.map((r) => r.id));
  const free = (roles ? roles.edges : []).map((e) => e.node).filter((r) => !assigned.has(r.id));
  const pick = h("select", { name: "role" },
    h("option", { value: "" }, free.length ? "Choose a role…" : "No other roles"),
    free.map((r) => h("option", { value: r.id }, r.name)));
  const assign = h("button", { type: "submit", disabled: true }, "Assign role");
  pick.addEventListener("change", () => { assign.disabled = !pick.value; });
  const form = h("form.inline", { "aria-label": "Assign a role", onsubmit: (e) => {
    e.preventDefault();
    if (!pick.value) return;
    assign.disabled = true;
    call("assignUserRoles", pick.value, "Role " + pick.selectedOptions[0].textContent + " assigned.");
  } }, field("Role", pick, roles && roles.totalCount > roles.edges.length ? "The first " + roles.edges.length + " roles by name; assign others from the role's page." : null), assign);
  return h("section.card", { "aria-labelledby": "user-roles-h", id: "user-roles" },
    h("h2#user-roles-h", "Roles"),
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Role", "Description"].concat(canRemove ? [""] : []).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 3 }, "No roles."))))),
    status,
    canAssign && roles ? form : null);
}

function userPermissionsCard(u, apis, refresh) {
  const status = h("div", { "aria-live": "polite" });
  const ro = !can("update:users");
  const call = async (mutation, perm, done) => {
    status.replaceChildren();
    try {
      await gql(`mutation M($u: ID!, $p: [PermissionInput!]!) { ${mutation}(userId: $u, permissions: $p) { id } }`, { u: u.id, p: [perm] });
      await refresh(done);
    } catch (err) { status.replaceChildren(errorBox(err)); }
  };
  const source = (s) => s.type === "ROLE"
    ? h("span.badge", { "data-source": "role" }, "Role: ", s.roleId ? h("a", { href: "#/roles/" + encodeURIComponent(s.roleId) }, s.roleName || s.roleId) : s.roleName)
    : h("span.badge", { "data-source": "direct" }, "Direct");
  const rows = u.permissions.map((p) => {
    const direct = p.sources.some((s) => s.type === "DIRECT");
    return h("tr",
      h("td", h("code", p.permissionName)),
      h("td", p.resourceServerName, h("br"), h("span.mono.muted", p.resourceServerIdentifier)),
      h("td", p.description || "—"),
      h("td.sources", p.sources.map(source)),
      ro ? null : h("td", direct ? h("button.danger", { type: "button", "aria-label": "Remove the direct permission " + p.permissionName,
        onclick: () => call("removeUserPermissions", { resourceServerIdentifier: p.resourceServerIdentifier, permissionName: p.permissionName },
          "Direct permission " + p.permissionName + " removed.") }, "Remove direct") : ""));
  });
  const held = new Set(u.permissions.filter((p) => p.sources.some((s) => s.type === "DIRECT")).map(permKey));
  return h("section.card", { "aria-labelledby": "user-perms-h", id: "user-permissions" },
    h("h2#user-perms-h", "Permissions"),
    h("p.hint", "Effective permissions: assigned directly or held through roles. Removing a direct permission keeps the same permission held through a role; remove the role for that."),
    h("div.table-wrap", h("table",
      h("thead", h("tr", ["Permission", "API", "Description", "Sources"].concat(ro ? [] : [""]).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.length ? rows : h("tr", h("td", { colspan: 5 }, "No permissions."))))),
    status,
    ro || !apis ? null : permissionPicker(apis, held, (perm) => call("addUserPermissions", perm, "Permission " + perm.permissionName + " assigned directly."), true, "Assign directly"));
}
