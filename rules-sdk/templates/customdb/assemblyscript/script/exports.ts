// The wasm exports of a custom-database script. The entry file re-exports
// them: export * from "../script/exports";

import { parseBytes } from "@authgraph/rules-sdk/assembly/json";
import { Outcome, handler } from "./index";

// Kept in a global so that the collector leaves it alone until the host has
// copied it. As for rules (runtime "minimal"), garbage is collected once per
// call, at the end of on_script.
let output: ArrayBuffer = new ArrayBuffer(0);

export function idp_abi_version(): i32 {
  return 1;
}

/** The host allocates the input buffer here; on_script frees it. */
export function idp_alloc(size: usize): usize {
  return heap.alloc(size > 0 ? size : 1);
}

export function on_script(ptr: usize, len: usize): u64 {
  const input = parseBytes(ptr, len);
  heap.free(ptr);
  const h = handler();
  let out: Outcome;
  if (input == null) {
    out = Outcome.system("bad input: invalid JSON");
  } else if (h == null) {
    out = Outcome.system("no handler registered: call handle() in the entry file");
  } else {
    out = h(input.get("op").asString(), input.get("args"));
  }
  output = String.UTF8.encode(out.toJSON());
  // Runtime.Minimal is 1; the other runtimes collect by themselves (or never).
  if (ASC_RUNTIME == 1) __collect();
  return (<u64>changetype<usize>(output) << 32) | <u64>output.byteLength;
}
