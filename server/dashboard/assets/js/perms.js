// Shared pieces of the RBAC pages: the API/scope picker and permission
// tables used by a role's page and a user's Roles tab.
import { gql } from "./api.js";
import { h, field } from "./dom.js";

export const PERMISSION_FIELDS = `resourceServerIdentifier resourceServerName permissionName description`;

// loadAPIs lists the APIs whose scopes can be permissions: every API but
// the built-in management API (its scopes stay in administrator grants).
export async function loadAPIs() {
  const d = await gql(`{ resourceServers(first: 100) { edges { node { id identifier name system scopes { value description } } } } }`);
  return d.resourceServers.edges.map((e) => e.node).filter((a) => !a.system);
}

export const permKey = (p) => p.resourceServerIdentifier + " " + p.permissionName;

// permissionPicker: choose an API, then one of the scopes it declares that
// is not held yet (held: a Set of permKey). onAdd gets a PermissionInput.
export function permissionPicker(apis, held, onAdd, allowed, label) {
  const api = h("select", { name: "api" },
    h("option", { value: "" }, apis.length ? "Choose an API…" : "No APIs with scopes yet"),
    apis.map((a) => h("option", { value: a.identifier }, a.name + " (" + a.identifier + ")")));
  const scope = h("select", { name: "scope", disabled: true });
  const add = h("button", { type: "submit", disabled: true }, label || "Add permission");
  const fill = () => {
    const a = apis.find((x) => x.identifier === api.value);
    const free = a ? a.scopes.filter((s) => !held.has(a.identifier + " " + s.value)) : [];
    scope.replaceChildren(
      h("option", { value: "" }, !a ? "Choose an API first" : free.length ? "Choose a scope…" : "No scopes left to add"),
      ...free.map((s) => h("option", { value: s.value }, s.value + (s.description ? " — " + s.description : ""))));
    scope.disabled = !free.length;
    add.disabled = true;
  };
  api.addEventListener("change", fill);
  scope.addEventListener("change", () => { add.disabled = !allowed || !scope.value; });
  fill();
  return h("form.inline.picker", { onsubmit: async (e) => {
    e.preventDefault();
    if (!api.value || !scope.value) return;
    add.disabled = true;
    await onAdd({ resourceServerIdentifier: api.value, permissionName: scope.value });
    add.disabled = !scope.value; // still here: the change failed
  } }, field("API", api), field("Permission (scope)", scope), add);
}
