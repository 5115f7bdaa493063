// Fixture logspam: too many and too long log lines, some with a secret.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  api.log("secret is " + e.secret("API_KEY") + " and short " + e.secret("SHORT"));
  api.log("y".repeat(10000));
  for (let i = 0; i < 1000; i++) api.log("line " + i.toString());
  trace("traced", 2, 1.5, 2.5);
  api.deny("denied with " + e.secret("API_KEY"));
});
