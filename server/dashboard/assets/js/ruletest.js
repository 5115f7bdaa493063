// The outcome of testRule, as both test panels of the rules pages show it.
import { h, json } from "./dom.js";

export const TEST_RESULT = `allowed deny idTokenClaims accessTokenClaims appMetadata userMetadata droppedClaims logs durationMs error`;

// testResult renders a RuleTestResult: verdict, commands and log lines.
export function testResult(r) {
  return [
    h("p", h("strong", r.error ? "Failed" : r.allowed ? "Allowed" : "Denied"), ` in ${r.durationMs.toFixed(1)} ms`, r.deny ? " — " + r.deny : ""),
    r.error ? h("div.alert", { role: "alert" }, r.error) : null,
    h("h3", "Commands"),
    h("pre.rule-commands", json({ idTokenClaims: r.idTokenClaims, accessTokenClaims: r.accessTokenClaims, appMetadata: r.appMetadata, userMetadata: r.userMetadata, droppedClaims: r.droppedClaims })),
    h("h3", "Logs"),
    h("pre.rule-logs", r.logs.join("\n") || "(none)"),
  ].filter(Boolean);
}
