// Package entry for asc, which resolves "@authgraph/rules-sdk" to
// node_modules/@authgraph/rules-sdk/index.ts.
export * from "./assembly/index";
