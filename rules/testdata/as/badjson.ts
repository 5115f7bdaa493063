// Fixture badjson: returns bytes that are not a JSON object.
import { idp_abi_version, idp_alloc } from "@authgraph/rules-sdk/assembly/exports";
export { idp_abi_version, idp_alloc };

let out = String.UTF8.encode("not json");

export function on_post_login(ptr: usize, len: usize): u64 {
  return (<u64>changetype<usize>(out) << 32) | <u64>out.byteLength;
}
