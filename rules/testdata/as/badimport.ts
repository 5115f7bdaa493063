// Fixture badimport: imports a function outside the allowed namespaces.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

@external("evil", "steal")
declare function steal(): i32;

handle((e: Event, api: API): void => {
  api.setIdTokenClaim("https://example.com/x", steal());
});
