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
  return send("application/json", JSON.stringify({ query, variables: variables || {} }));
}

// gqlUpload sends an operation with files as a GraphQL multipart request:
// files maps variable names to File objects (the variables hold null there).
export async function gqlUpload(query, variables, files) {
  const vars = Object.assign({}, variables);
  const map = {};
  const form = new FormData();
  Object.keys(files).forEach((name, i) => { vars[name] = null; map[String(i)] = ["variables." + name]; });
  form.append("operations", JSON.stringify({ query, variables: vars }));
  form.append("map", JSON.stringify(map));
  Object.values(files).forEach((file, i) => form.append(String(i), file, file.name));
  return send(null, form); // the browser sets the multipart boundary
}

async function send(contentType, payload) {
  const s = session();
  if (!s) { signIn(); throw new ApiError([{ message: "signed out" }]); }
  const headers = { Authorization: "Bearer " + s.accessToken };
  if (contentType) headers["Content-Type"] = contentType;
  const resp = await fetch(endpoint, {
    method: "POST",
    headers,
    body: payload,
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
