// Fixture noexport: forgets to re-export the ABI.
import { Event, API, handle } from "@authgraph/rules-sdk";

export function on_post_login(ptr: usize, len: usize): u64 {
  return 0;
}

handle((e: Event, api: API): void => {});
