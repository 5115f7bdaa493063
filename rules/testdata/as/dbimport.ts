// Fixture dbimport: imports an idp function reserved for custom-database
// scripts.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

@external("idp", "db_query")
declare function db_query(ptr: usize, len: usize): i32;

handle((e: Event, api: API): void => {
  api.setIdTokenClaim("https://example.com/x", db_query(0, 0));
});
