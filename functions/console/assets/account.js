// My account: what every signed-in user may do to their own account:
// see and end their sessions, change their password, turn MFA on or
// off, and pick the console's theme.

import * as api from "/api/auth/v2/console/api.js";
import { h, clear, field, form, button, messages, table, when, view } from "/api/auth/v2/console/dom.js";

const THEMES = [["light", "Light"], ["dark", "Dark"]];

// applyTheme sets the theme on <html>; without one the style sheet
// follows the system's preference.
export function applyTheme(theme) {
  if (THEMES.some(([value]) => value === theme)) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

// loadTheme applies the stored theme. A failure leaves the system's:
// the theme is not worth an error before the first view.
export async function loadTheme() {
  try {
    const { preferences } = await api.call("GET", "/preferences");
    applyTheme(preferences.theme);
  } catch {
    applyTheme(null);
  }
}

export function render() {
  return view("My account", null, sessionsSection(), passwordSection(), mfaSection(), themeSection());
}

// section is one part of the page with its own messages, so a result
// shows next to the form that caused it.
function section(title) {
  const msg = messages();
  const body = h("div", { className: "section-body" });
  const el = h("section", { className: "card" }, h("h2", {}, title), msg.el, body);
  return { el, msg, body };
}

function sessionsSection() {
  const s = section("Sessions");
  const load = async () => {
    try {
      const { sessions } = await api.call("GET", "/me/sessions");
      clear(s.body).append(table("My sessions", ["Created", "Last seen", "IP address", "User agent", "Actions"],
        sessions.map((x) => ({
          attrs: { className: x.current ? "current" : null },
          cells: [when(x.created_at), when(x.last_seen_at), x.ip_address, x.user_agent,
            x.current ? h("strong", {}, "This session") : button("End", async () => {
              await api.call("DELETE", `/me/sessions/${encodeURIComponent(x.id)}`);
              s.msg.ok("The session was ended.");
              await load();
            }, s.msg)],
        })), "No live sessions."));
    } catch (err) {
      s.msg.error(err);
    }
  };
  load();
  return s.el;
}

function passwordSection() {
  const s = section("Password");
  const current = field("Current password", { type: "password", autocomplete: "current-password", required: true });
  const next = field("New password", { type: "password", autocomplete: "new-password", required: true, minlength: 8, maxlength: 72 });
  const f = form("Change password", { current, next }, "Change password", async (v) => {
    await api.call("POST", "/me/password", { current_password: v.current, new_password: v.next });
    f.reset();
    s.msg.ok("Your password was changed. Your other sessions were ended.");
  }, s.msg);
  s.body.append(h("p", { className: "hint" }, "8 to 72 bytes. Changing it ends your other sessions."), f);
  return s.el;
}

// mfaSection reads the user afresh: MFA may have changed since sign-in.
function mfaSection() {
  const s = section("Two-factor authentication");
  const show = async () => {
    try {
      const me = await api.call("GET", "/me");
      clear(s.body).append(me.mfa_enabled ? mfaOn(s, show) : mfaOff(s, show));
    } catch (err) {
      s.msg.error(err);
    }
  };
  show();
  return s.el;
}

function mfaOff(s, show) {
  const holder = h("div", {}, h("p", {}, "Two-factor authentication is off. Turn it on to ask for a code from an authenticator app at every sign-in."));
  const password = field("Current password", { type: "password", autocomplete: "current-password", required: true });
  holder.append(form("Set up MFA", { password }, "Set up MFA", async (v) => {
    const enrolment = await api.call("POST", "/me/mfa/totp", { current_password: v.password });
    clear(holder).append(enrol(s, show, enrolment));
  }, s.msg));
  return holder;
}

// enrol shows the new secret (as a QR code and as text) and asks for the
// first code; the answer is the recovery codes, shown this once.
function enrol(s, show, enrolment) {
  const qr = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/.test(enrolment.qr_png) ? enrolment.qr_png : "";
  const code = field("Code", { autocomplete: "one-time-code", required: true });
  return h("div", { className: "enrol" },
    h("p", {}, "Scan the QR code with an authenticator app, or type the secret into it. Then enter the code it shows."),
    h("img", { src: qr, alt: "QR code", className: "qr", width: 200, height: 200 }),
    h("p", {}, "Secret: ", h("code", { className: "mfa-secret" }, enrolment.secret)),
    form("Activate MFA", { code }, "Activate", async (v) => {
      const { recovery_codes: codes } = await api.call("POST", "/me/mfa/totp/activate", { code: v.code.trim() });
      await show();
      s.msg.ok("Two-factor authentication is on.");
      s.body.prepend(h("div", { className: "recovery" },
        h("p", {}, h("strong", {}, "Your recovery codes. "),
          "Keep them somewhere safe: each one signs you in once without your phone, and they are shown only now."),
        h("ul", { className: "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c))))));
    }, s.msg));
}

function mfaOn(s, show) {
  const password = field("Current password", { type: "password", autocomplete: "current-password", required: true });
  const code = field("Code", { autocomplete: "one-time-code", required: true });
  return h("div", {},
    h("p", {}, "Two-factor authentication is on. To turn it off, confirm with your password and a code (or a recovery code)."),
    form("Turn off MFA", { password, code }, "Turn off MFA", async (v) => {
      await api.call("DELETE", "/me/mfa/totp", { current_password: v.password, code: v.code.trim() });
      await show();
      s.msg.ok("Two-factor authentication is off. Your other sessions were ended.");
    }, s.msg));
}

function themeSection() {
  const s = section("Theme");
  const theme = field("Theme", { name: "theme" }, THEMES);
  const stored = document.documentElement.dataset.theme;
  theme.input.value = stored || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  theme.input.addEventListener("change", async () => {
    s.msg.clear();
    const value = theme.input.value;
    applyTheme(value);
    try {
      await api.call("POST", "/preferences", { theme: value });
      s.msg.ok(`The ${value} theme is saved.`);
    } catch (err) {
      s.msg.error(err);
    }
  });
  s.body.append(theme.el);
  return s.el;
}
