// Fixture loop: never returns.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

let sink: i64 = 0;

handle((e: Event, api: API): void => {
  for (let i: i64 = 0; ; i++) sink += i;
});
