// The wasm exports of ABI v1. A rule's entry file re-exports them:
//
//   export * from "@authgraph/rules-sdk/assembly/exports";

import { parseBytes } from "./json";
import { Event } from "./event";
import { API } from "./api";
import { current } from "./handler";

// Kept in a global so that the collector leaves it alone until the host has
// copied it (the host reads it right after on_post_login returns).
//
// The SDK builds with the "minimal" runtime (asconfig.json): no shadow stack
// and no collection while a rule runs, which makes a call about 40% cheaper
// than the "incremental" runtime. Garbage is collected once per call, at the
// end of on_post_login, when the stack is unwound and the only live objects
// are reachable from globals (output among them). A single call may
// therefore allocate up to the instance's memory limit.
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
  // Runtime.Minimal is 1; the other runtimes collect by themselves (or never).
  if (ASC_RUNTIME == 1) __collect();
  return (<u64>changetype<usize>(output) << 32) | <u64>output.byteLength;
}

