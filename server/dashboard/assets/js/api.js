// GraphQL over the public /graphql endpoint with the session's token.
import { session, signIn } from "./auth.js";

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }
  // fieldErrors maps extensions.field to messages (BAD_USER_INPUT, CONFLICT).
  fieldErrors() {
    const out = {};
    for (const e of this.errors) {
      const f = e.extensions && e.extensions.field;
      if (f) out[f] = e.message;
    }
    return out;
  }
  get code() { return this.errors[0] && this.errors[0].extensions && this.errors[0].extensions.code; }
}

let endpoint = "graphql";
export function setEndpoint(url) { endpoint = url; }

export async function gql(query, variables) {
  const s = session();
  if (!s) { signIn(); throw new ApiError([{ message: "signed out" }]); }
  const resp = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + s.accessToken },
    body: JSON.stringify({ query, variables: variables || {} }),
    credentials: "omit",
    cache: "no-store",
  });
  if (resp.status === 401) {
    // Expired or revoked: sign in again and come back.
    signIn();
    throw new ApiError([{ message: "Your session ended; signing in again.", extensions: { code: "UNAUTHENTICATED" } }]);
  }
  let body;
  try { body = await resp.json(); } catch (e) { throw new ApiError([{ message: "The server answered " + resp.status }]); }
  if (body.errors && body.errors.length) throw new ApiError(body.errors);
  return body.data;
}
