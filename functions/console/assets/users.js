// Users: search, page through, create, change, deactivate and delete
// accounts, and reset a user's MFA (admin only).

import * as api from "/api/auth/v2/console/api.js";
import { h, clear, field, form, button, messages, table, confirm, pagedList, when, yesNo, view } from "/api/auth/v2/console/dom.js";

const PAGE = 20;

export function render() {
  const msg = messages();
  const panel = h("div", { className: "panel" }); // the New user or Edit user form
  let q = "";
  const list = pagedList(async (cursor) => {
    const page = await api.call("GET", `/users${api.query({ limit: PAGE, cursor, q })}`);
    return { rows: page.users, next: page.next_cursor };
  }, (users) => table("Users", ["Username", "Full name", "Admin", "Active", "MFA", "Last login", "Actions"],
    users.map((u) => row(u, ctx)), "No users match."), msg);
  const ctx = { msg, panel, reload: list.reload };

  const search = field("Search", { type: "search", name: "q", maxlength: 64, placeholder: "Name or full name" });
  const searchForm = form("Search users", { search }, "Search", async (v) => {
    q = v.search.trim();
    await list.first();
  }, msg);
  const create = h("button", { type: "button", className: "primary" }, "New user");
  create.addEventListener("click", () => newUser(ctx));
  list.first();
  return view("Users", msg, h("div", { className: "toolbar" }, searchForm, create), panel, list.el);
}

function row(u, ctx) {
  const actions = [
    button("Edit", () => editUser(u, ctx), ctx.msg),
    button("Delete", () => ask(ctx, `Delete user ${u.username}?`, "Delete", async () => {
      await api.call("DELETE", `/users/${u.id}`);
      return `User ${u.username} was deleted.`;
    }), ctx.msg, "danger"),
    u.mfa_enabled ? button("Reset MFA", () => ask(ctx, `Reset MFA of user ${u.username}?`, "Reset MFA", async () => {
      await api.call("POST", `/users/${u.id}/mfa/reset`);
      return `MFA of ${u.username} was reset.`;
    }), ctx.msg) : null,
  ];
  return {
    attrs: { "data-username": u.username },
    cells: [u.username, u.full_name, yesNo(u.is_admin), yesNo(u.is_active), yesNo(u.mfa_enabled),
      when(u.last_login_at), h("div", { className: "row-actions" }, actions)],
  };
}

// ask confirms, then runs act (which answers the success message) and
// reloads the list.
async function ask(ctx, question, okText, act) {
  if (!(await confirm(question, okText))) return;
  ctx.msg.ok(await act());
  await ctx.reload();
}

// done closes the panel, says what happened and shows the list anew.
async function done(ctx, text) {
  clear(ctx.panel);
  ctx.msg.ok(text);
  await ctx.reload();
}

function cancelButton(ctx) {
  const el = h("button", { type: "button" }, "Cancel");
  el.addEventListener("click", () => clear(ctx.panel));
  return el;
}

function newUser(ctx) {
  const fields = {
    username: field("Username", { autocomplete: "off", required: true, minlength: 3, maxlength: 64 }),
    fullName: field("Full name", { autocomplete: "off", maxlength: 128 }),
    password: field("Password", { type: "password", autocomplete: "new-password", required: true, minlength: 8 }),
    admin: field("Admin", { type: "checkbox" }),
  };
  clear(ctx.panel).append(h("div", { className: "card" }, h("h2", {}, "New user"),
    form("New user", fields, "Create", async (v) => {
      const u = await api.call("POST", "/users", {
        username: v.username.trim(), full_name: v.fullName, password: v.password, is_admin: v.admin,
      });
      await done(ctx, `User ${u.username} was created.`);
    }, ctx.msg, cancelButton(ctx))));
  fields.username.input.focus();
}

// editUser sends only what changed: an unchanged flag is not a change
// in the audit log, and a password only when one is typed.
function editUser(u, ctx) {
  const fields = {
    fullName: field("Full name", { value: u.full_name, maxlength: 128 }),
    admin: field("Admin", { type: "checkbox", checked: u.is_admin }),
    active: field("Active", { type: "checkbox", checked: u.is_active }),
    password: field("New password", { type: "password", autocomplete: "new-password", minlength: 8 }),
  };
  clear(ctx.panel).append(h("div", { className: "card" }, h("h2", {}, `Edit ${u.username}`),
    form("Edit user", fields, "Save", async (v) => {
      const change = {};
      if (v.fullName !== u.full_name) change.full_name = v.fullName;
      if (v.admin !== u.is_admin) change.is_admin = v.admin;
      if (v.active !== u.is_active) change.is_active = v.active;
      if (v.password) change.password = v.password;
      if (Object.keys(change).length) await api.call("PATCH", `/users/${u.id}`, change);
      await done(ctx, Object.keys(change).length ? `User ${u.username} was saved.` : "Nothing was changed.");
    }, ctx.msg, cancelButton(ctx))));
  fields.fullName.input.focus();
}
