// Fixture bigoutput: returns a result larger than the output cap.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  api.setIdTokenClaim("https://example.com/big", "x".repeat(1 << 20));
});
