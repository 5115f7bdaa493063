// Fixture abort: an AssemblyScript exception (throw ends in env.abort).
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  throw new Error("boom for " + e.user.userId);
});
