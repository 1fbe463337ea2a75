// Sessions: every live session of the service, newest first, and a way
// to end all of one user's (admin only).

import * as api from "/api/auth/v2/console/api.js";
import { h, button, messages, table, confirm, pagedList, when, view } from "/api/auth/v2/console/dom.js";

const PAGE = 50;

export function render() {
  const msg = messages();
  const summary = h("p", { className: "hint" });
  const list = pagedList(async (cursor) => {
    const page = await api.call("GET", `/sessions${api.query({ limit: PAGE, cursor })}`);
    const { active_sessions: n, active_users: u } = page.stats;
    summary.textContent = `${n} live ${n === 1 ? "session" : "sessions"} of ${u} ${u === 1 ? "user" : "users"}.`;
    return { rows: page.sessions, next: page.next_cursor };
  }, (sessions) => table("Live sessions", ["User", "IP address", "User agent", "Created", "Last seen", "Actions"],
    sessions.map((s) => ({
      attrs: { "data-username": s.username },
      cells: [s.username, s.ip_address, s.user_agent, when(s.created_at), when(s.last_seen_at),
        button("Revoke all", () => revoke(s, msg, list), msg, "danger")],
    })), "No live sessions."), msg);
  list.first();
  return view("Sessions", msg, summary, list.el);
}

async function revoke(s, msg, list) {
  if (!(await confirm(`End every session of ${s.username}?`, "Revoke"))) return;
  const { revoked } = await api.call("DELETE", `/sessions/${s.user_id}`);
  msg.ok(`${revoked} ${revoked === 1 ? "session" : "sessions"} of ${s.username} ended.`);
  await list.reload();
}
