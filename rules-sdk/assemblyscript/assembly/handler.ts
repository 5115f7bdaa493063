import { Event } from "./event";
import { API } from "./api";

/** A post-login rule: inspect the event, record commands on api. */
export type Handler = (event: Event, api: API) => void;

let registered: Handler | null = null;

/** Registers the rule. Call it once, at the top level of the entry file. */
export function handle(h: Handler): void {
  registered = h;
}

export function current(): Handler | null {
  return registered;
}
