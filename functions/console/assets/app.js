// The console's start: resume a sign-in from this tab, or show the
// sign-in view; once signed in, the shell (header, nav) and the view the
// hash names. Each view is a module of its own.

import * as api from "/api/auth/v2/console/api.js";
import { h, clear, field, form, messages } from "/api/auth/v2/console/dom.js";
import * as overview from "/api/auth/v2/console/overview.js";
import * as users from "/api/auth/v2/console/users.js";
import * as sessions from "/api/auth/v2/console/sessions.js";
import * as audit from "/api/auth/v2/console/audit.js";
import * as account from "/api/auth/v2/console/account.js";

// routes in nav order; admin ones are neither linked nor shown to others.
const routes = [
  { hash: "#/overview", label: "Overview", admin: true, view: overview },
  { hash: "#/users", label: "Users", admin: true, view: users },
  { hash: "#/sessions", label: "Sessions", admin: true, view: sessions },
  { hash: "#/audit", label: "Audit log", admin: true, view: audit },
  { hash: "#/account", label: "My account", admin: false, view: account },
];

const root = document.getElementById("app");
let user = null; // the signed-in user, or null

function allowed() {
  return routes.filter((r) => !r.admin || (user && user.is_admin));
}

function defaultHash() {
  return allowed()[0].hash;
}

// route picks the view of the hash; an unknown or forbidden one falls
// back to the user's default view.
function route() {
  return allowed().find((r) => r.hash === location.hash) || allowed().find((r) => r.hash === defaultHash());
}

// show renders the hash's view under the shell, which stays in place so
// a nav link keeps the focus it was clicked with.
function show() {
  if (!user) return;
  const current = route();
  if (location.hash !== current.hash) history.replaceState(null, "", current.hash);
  if (!root.querySelector("header.shell")) clear(root).append(shell(), h("main", { id: "content" }));
  for (const link of root.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === current.hash) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clear(root.querySelector("main")).append(current.view.render({ user }));
}

function shell() {
  const links = allowed().map((r) => h("li", {}, h("a", { href: r.hash }, r.label)));
  const signOut = h("button", { type: "button", className: "signout" }, "Sign out");
  signOut.addEventListener("click", async () => {
    await api.logout();
    signedOut("");
  });
  return h("header", { className: "shell" },
    h("div", { className: "brand" }, h("span", { className: "product" }, "authfn console")),
    h("nav", { "aria-label": "Main" }, h("ul", {}, links)),
    h("div", { className: "who" }, h("span", { className: "username" }, user.username), signOut));
}

// enter starts the signed-in console: the user's theme, then the view
// (the default one after an explicit sign-in, the hash after a reload).
async function enter(u, keepHash) {
  user = u;
  clear(root); // a new user gets a new shell (their name, their links)
  if (!keepHash) history.replaceState(null, "", defaultHash());
  await account.loadTheme();
  show();
}

function signedOut(note) {
  user = null;
  signInView(note);
}

// signInView is the password step, then, for a user with MFA, the code
// step in the same place.
function signInView(note) {
  const msg = messages();
  const box = h("div", { className: "signin-step" });
  const username = field("Username", { name: "username", autocomplete: "username", required: true });
  const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  box.append(form("Sign in", { username, password }, "Sign in", async (v) => {
    try {
      await enter(await api.login(v.username, v.password), false);
    } catch (err) {
      if (err.code !== "mfa_required") throw err;
      codeStep(box, msg, err.mfaToken);
    }
  }, msg));
  clear(root).append(h("main", {}, h("section", { className: "view signin card" },
    h("h1", {}, "authfn console"), h("p", { className: "lead" }, "Sign in with your account."), msg.el, box)));
  if (note) msg.error(note);
  username.input.focus();
}

function codeStep(box, msg, mfaToken) {
  const code = field("Code", { name: "code", autocomplete: "one-time-code", inputmode: "text", required: true });
  const restart = h("button", { type: "button" }, "Start over");
  restart.addEventListener("click", () => signInView(""));
  clear(box).append(
    h("p", {}, "Enter the code from your authenticator app, or one of your recovery codes."),
    form("Two-factor code", { code }, "Verify", async (v) => {
      try {
        await enter(await api.loginMFA(mfaToken, v.code.trim()), false);
      } catch (err) {
        // an answer uses the mfa_token up, whatever it says: start again
        if (err.status === 0 || err.status >= 500) throw err;
        signInView(`${err.detail} Sign in again.`);
      }
    }, msg, restart));
  code.input.focus();
}

async function boot() {
  api.setSignedOutHandler(signedOut);
  window.addEventListener("hashchange", show);
  if (!api.hasStoredSession()) return signInView("");
  try {
    await enter(await api.refresh(), true);
  } catch (err) {
    signInView(err.status === 0 || err.status >= 500 ? err : "");
  }
}

boot();
