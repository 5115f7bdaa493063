// Sign-in with Authgraph's own /authorize: authorization code + PKCE with
// the built-in dashboard client. The token lives in sessionStorage (this
// tab only) and is sent only to /graphql.
const KEY = "authgraph.session";
const PENDING = "authgraph.pending";
let cfg = null;

export function configure(c) { cfg = c; }

// The user-search examples the server vouches for (dashboard/examples.go).
export function searchExamples() { return (cfg && cfg.searchExamples) || []; }

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (s && s.accessToken && s.expiresAt > Date.now() + 5000) return s;
  } catch (e) { /* fall through */ }
  return null;
}

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n) { return b64url(crypto.getRandomValues(new Uint8Array(n))); }

// signIn sends the browser to /authorize, asking for every management
// scope: the server grants only those the administrator holds.
export async function signIn() {
  const verifier = random(32);
  const state = random(16);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const back = location.hash && location.hash !== "#/login" ? location.hash : "";
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, back }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: cfg.clientId,
    redirect_uri: cfg.redirectUri,
    scope: ["openid", "profile", "email"].concat(cfg.scopes).join(" "),
    audience: cfg.audience,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(cfg.issuer + "authorize?" + q.toString());
}

// completeSignIn handles {issuer}dashboard/callback?code=…&state=…
// It returns the fragment to show next, or throws.
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (params.get("error")) {
    throw new Error(params.get("error_description") || params.get("error"));
  }
  if (!pending || !params.get("state") || params.get("state") !== pending.state) {
    throw new Error("This sign-in response does not match a sign-in started here. Try again.");
  }
  const resp = await fetch(cfg.issuer + "oauth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code") || "",
      redirect_uri: cfg.redirectUri,
      client_id: cfg.clientId,
      code_verifier: pending.verifier,
    }),
    credentials: "omit",
  });
  const tok = await resp.json();
  if (!resp.ok || !tok.access_token) {
    throw new Error(tok.error_description || tok.error || "The token request failed.");
  }
  const claims = decodeJWT(tok.id_token || "");
  sessionStorage.setItem(KEY, JSON.stringify({
    accessToken: tok.access_token,
    idToken: tok.id_token || "",
    scopes: (tok.scope || "").split(" ").filter(Boolean),
    expiresAt: Date.now() + (tok.expires_in || 3600) * 1000,
    name: claims.email || claims.name || claims.sub || "",
    sub: claims.sub || "",
  }));
  return pending.back || "#/users";
}

// decodeJWT reads a JWT's payload for display only (the server verifies).
function decodeJWT(t) {
  try {
    const p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(p))));
  } catch (e) { return {}; }
}

// managementScopes returns the session's management scopes (an
// administrator has at least one; everybody gets self-service ones).
export function managementScopes(s) {
  return (s ? s.scopes : []).filter((x) => cfg.scopes.includes(x));
}

export function can(scope) {
  const s = session();
  return !!s && s.scopes.includes(scope);
}

// signOut forgets the token and ends the SSO session (RP-initiated logout).
export function signOut() {
  const s = session();
  sessionStorage.removeItem(KEY);
  const q = new URLSearchParams({ client_id: cfg.clientId, post_logout_redirect_uri: cfg.logoutUri });
  if (s && s.idToken) q.set("id_token_hint", s.idToken);
  location.assign(cfg.issuer + "oidc/logout?" + q.toString());
}
