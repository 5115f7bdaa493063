// The dashboard's entry point: configuration, sign-in, routing.
import { configure, session, signIn, completeSignIn, managementScopes, signOut } from "./auth.js";
import { setEndpoint } from "./api.js";
import { h, errorBox } from "./dom.js";
import { usersPage } from "./users.js";
import { userPage } from "./user.js";
import { connectionsPage, connectionPage } from "./connections.js";
import { applicationsPage } from "./applications.js";
import { logsPage } from "./logs.js";
import { rulesPage } from "./rules.js";
import { ruleEditorPage } from "./ruleeditor.js";
import { rolesPage, rolePage } from "./roles.js";
import { apisPage, apiPage } from "./apis.js";
import { importPage } from "./import.js";

const routes = [
  [/^#\/users\/(.+)$/, (m) => userPage(decodeURIComponent(m[1])), "users"],
  [/^#\/users$/, () => usersPage(), "users"],
  [/^#\/import$/, () => importPage(), "import"],
  [/^#\/roles\/(.+)$/, (m) => rolePage(decodeURIComponent(m[1])), "roles"],
  [/^#\/roles$/, () => rolesPage(), "roles"],
  [/^#\/apis\/(.+)$/, (m) => apiPage(decodeURIComponent(m[1])), "apis"],
  [/^#\/apis$/, () => apisPage(), "apis"],
  [/^#\/connections\/(.+)$/, (m) => connectionPage(decodeURIComponent(m[1])), "connections"],
  [/^#\/connections$/, () => connectionsPage(), "connections"],
  [/^#\/applications$/, () => applicationsPage(), "applications"],
  [/^#\/logs$/, () => logsPage(), "logs"],
  [/^#\/rules\/(.+)$/, (m) => ruleEditorPage(decodeURIComponent(m[1])), "rules"],
  [/^#\/rules$/, () => rulesPage(), "rules"],
];

const main = document.getElementById("main");

async function render() {
  const path = location.hash.split("?")[0] || "#/users";
  for (const [re, page, section] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.section === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    main.replaceChildren(h("p.muted", "Loading…"));
    try {
      const content = await page(m);
      main.replaceChildren(content);
    } catch (err) {
      main.replaceChildren(h("h1", "Something went wrong"), errorBox(err));
    }
    const heading = main.querySelector("h1");
    document.title = (heading ? heading.textContent + " · " : "") + "Authgraph dashboard";
    return;
  }
  location.replace("#/users");
}

function noAccess(s) {
  document.title = "No access · Authgraph dashboard";
  main.replaceChildren(h("section.card.narrow",
    h("h1", "No access"),
    h("p", "You are signed in as ", h("strong", s.name || s.sub), ", but this account is not an Authgraph administrator."),
    h("p", "Ask an administrator to grant you access (", h("code", "authgraph admins add EMAIL"), " or the ", h("code", "grantAdmin"), " mutation), then sign in again."),
    h("button", { type: "button", onclick: signOut }, "Sign out")));
}

function signInFailed(err) {
  main.replaceChildren(h("section.card.narrow",
    h("h1", "Sign-in failed"),
    h("p", err.message),
    h("button", { type: "button", onclick: () => { history.replaceState(null, "", cfgDashboard); signIn(); } }, "Try again")));
}

let cfgDashboard = "./";

async function start() {
  const resp = await fetch("config.json", { cache: "no-cache" });
  const cfg = await resp.json();
  configure(cfg);
  setEndpoint(cfg.graphql);
  cfgDashboard = cfg.dashboard;
  if (location.pathname.endsWith("/callback")) {
    try {
      const next = await completeSignIn();
      if (sessionStorage.getItem("authgraph.return") === "playground") {
        sessionStorage.removeItem("authgraph.return");
        location.replace(cfg.playground);
        return;
      }
      history.replaceState(null, "", cfg.dashboard + next);
    } catch (err) {
      history.replaceState(null, "", cfg.dashboard);
      signInFailed(err);
      return;
    }
  }
  const s = session();
  if (!s) {
    signIn();
    return;
  }
  if (managementScopes(s).length === 0) {
    noAccess(s);
    return;
  }
  if (location.hash === "#/login" && sessionStorage.getItem("authgraph.return") === "playground") {
    sessionStorage.removeItem("authgraph.return");
    location.replace(cfg.playground);
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("who").replaceChildren(
    h("span.muted", s.name), " ",
    h("button.link", { type: "button", onclick: signOut }, "Sign out"));
  window.addEventListener("hashchange", render);
  if (!location.hash || location.hash === "#/login") history.replaceState(null, "", "#/users");
  render();
}

start().catch((err) => main.replaceChildren(h("h1", "The dashboard could not start"), errorBox(err)));
