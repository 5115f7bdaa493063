// Fixture memgrow: allocates 1 MiB buffers until the memory limit.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

const keep = new Array<ArrayBuffer>();

handle((e: Event, api: API): void => {
  while (true) keep.push(new ArrayBuffer(1 << 20));
});
