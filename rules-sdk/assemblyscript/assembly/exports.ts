// The wasm exports of ABI v1. A rule's entry file re-exports them:
//
//   export * from "@authgraph/rules-sdk/assembly/exports";

import { parseBytes } from "./json";
import { Event } from "./event";
import { API } from "./api";
import { current } from "./handler";

// Kept in a global so that the collector leaves it alone until the host has
// copied it (the host reads it right after on_post_login returns).
let output: ArrayBuffer = new ArrayBuffer(0);

export function idp_abi_version(): i32 {
  return 1;
}

/** The host allocates the event buffer here; on_post_login frees it. */
export function idp_alloc(size: usize): usize {
  return heap.alloc(size > 0 ? size : 1);
}

export function on_post_login(ptr: usize, len: usize): u64 {
  const parsed = parseBytes(ptr, len);
  heap.free(ptr);
  const api = new API();
  const h = current();
  if (parsed == null) {
    api.fail("decode event: invalid JSON");
  } else if (h == null) {
    api.fail("no handler registered: call handle() in the entry file");
  } else {
    h(Event.fromJSON(parsed), api);
  }
  output = String.UTF8.encode(api.result.toJSON());
  return (<u64>changetype<usize>(output) << 32) | <u64>output.byteLength;
}

