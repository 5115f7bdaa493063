// Fixture recurse: exponential recursion without a single loop, to check
// that the time limit does not rely on loop headers alone.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

function f(n: i32): i32 {
  return n <= 0 ? 1 : f(n - 1) + f(n - 1);
}

handle((e: Event, api: API): void => {
  api.setIdTokenClaim("https://example.com/x", f(<i32>e.stats.loginsCount));
});
