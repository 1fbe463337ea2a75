// Audit log: who did what to whom, newest first, filtered by event type
// and by user (admin only).

import * as api from "/api/auth/v2/console/api.js";
import { h, field, form, messages, table, pagedList, when, view } from "/api/auth/v2/console/dom.js";

const PAGE = 50;

// The EventType enum of pkg/apidoc/openapi.json, in its order.
const TYPES = [
  "login.succeeded", "login.failed", "login.locked", "login.mfa_failed", "logout", "refresh.reused",
  "password.changed", "session.revoked", "sessions.revoked", "user.created", "user.updated",
  "user.deleted", "user.provisioned", "user.synchronised", "upstream.failed", "mfa.enabled",
  "mfa.disabled", "mfa.reset", "cleanup.run",
];

export function render() {
  const msg = messages();
  let filter = {};
  const list = pagedList(async (cursor) => {
    const page = await api.call("GET", `/audit${api.query({ limit: PAGE, cursor, ...filter })}`);
    return { rows: page.events, next: page.next_cursor };
  }, (events) => table("Events", ["Time", "Type", "Actor", "Target", "IP address", "Details"],
    events.map((e) => ({
      attrs: { "data-type": e.type },
      cells: [when(e.time), h("code", {}, e.type), e.actor_id ? `#${e.actor_id}` : "—",
        target(e), e.ip_address || "—", details(e.details)],
    })), "No events."), msg, "Newest");

  const type = field("Type", { name: "type" }, [["", "All types"], ...TYPES.map((t) => [t, t])]);
  const user = field("User ID", { name: "user_id", inputmode: "numeric", pattern: "[0-9]*", size: 8 });
  const filterForm = form("Filter events", { type, user }, "Filter", async (v) => {
    const id = v.user.trim();
    if (id && !/^[1-9][0-9]*$/.test(id)) throw new Error("The user ID is a positive whole number.");
    filter = { type: v.type, user_id: id };
    await list.first();
  }, msg);
  list.first();
  return view("Audit log", msg, h("div", { className: "toolbar" }, filterForm), list.el);
}

// The actor is an id or nobody: the service itself and sign-in attempts
// have none (the name typed at sign-in is the target's column).

// target names whom the event was about: the name at the time, and the id.
function target(e) {
  if (e.username && e.target_id) return `${e.username} (#${e.target_id})`;
  return e.username || (e.target_id ? `#${e.target_id}` : "—");
}

// details shows the event's extra fields compactly, one "key: value"
// each; nested values as JSON text (never markup).
function details(d) {
  const entries = Object.entries(d || {});
  if (!entries.length) return "—";
  return h("ul", { className: "details" }, entries.map(([key, value]) => {
    const text = Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value);
    return h("li", {}, h("span", { className: "key" }, `${key}:`), " ", text);
  }));
}
