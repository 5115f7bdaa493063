// Authgraph rules SDK for AssemblyScript (ABI v1).
//
//   import { Event, API, handle } from "@authgraph/rules-sdk";
//   export * from "@authgraph/rules-sdk/assembly/exports";
//
//   handle((event: Event, api: API): void => {
//     if (!event.user.emailVerified) api.deny("verify your email first");
//   });

export { Value, Kind, parse } from "./json";
export { Event, User, Identity, Client, Connection, Request, Transaction, Stats, Authorization, Authentication, AuthenticationMethod, RuleInfo } from "./event";
export { API, toValue } from "./api";
export { handle, Handler } from "./handler";

export const ABI_VERSION: i32 = 1;
