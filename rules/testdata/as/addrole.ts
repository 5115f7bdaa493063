// Fixture addrole (AssemblyScript): the roles command, as the Go fixture of
// the same name. Secrets: "add", "remove", "record".
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  const add = e.secret("add");
  if (add != "") api.addRole(add);
  const remove = e.secret("remove");
  if (remove != "") api.removeRole(remove);
  if (e.secret("record") != "") api.setAccessTokenClaim("https://example.com/roles", e.authorization.roles);
});
