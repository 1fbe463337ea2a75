// Small helpers that build the console's DOM. Everything goes through
// createElement and textContent: usernames, user agents and audit
// details come from whoever typed them, so no string is ever parsed as
// HTML. Each pattern the views repeat (a labelled field, a form, a
// table, a confirm dialog, a message area, a pager) lives here once.

let nextId = 0;

// uid gives a document-unique id for label/control pairs.
export function uid(prefix = "f") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// h builds an element: attrs sets properties ("className", "disabled",
// "onclick" as a function) or, for names with a dash or "for"/"role"
// style attributes, plain attributes; children are nodes or strings
// (strings become text nodes), and null/false children are skipped.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const propNames = new Set(["className", "value", "checked", "disabled", "hidden", "type", "name", "id", "href", "src", "alt"]);

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (propNames.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// svg builds an SVG element (the overview's chart).
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

// clear empties an element.
export function clear(el) {
  el.replaceChildren();
  return el;
}

// field is a visible <label> and its control. kind "checkbox" puts the
// box before its label text; "select" takes options [[value, text]].
export function field(label, attrs = {}, options) {
  const id = uid();
  if (attrs.type === "checkbox") {
    const input = h("input", { ...attrs, id });
    return { el: h("div", { className: "field check" }, input, h("label", { for: id }, label)), input };
  }
  const input = options
    ? h("select", { ...attrs, id }, options.map(([value, text]) => h("option", { value }, text)))
    : h("input", { type: "text", ...attrs, id });
  return { el: h("div", { className: "field" }, h("label", { for: id }, label), input), input };
}

// form is a real <form> named by aria-label, so Enter submits it. fields
// maps a key to a field(); onSubmit gets {key: value or checked} and may
// be async: while it runs the submit button is disabled, and whatever it
// throws is shown in msg. The view's other messages are cleared first,
// so a stale success never sits next to a new error. The browser's own
// validation is off (novalidate): the API's answer, in role=alert, is the
// one message for every refusal.
export function form(label, fields, submitText, onSubmit, msg, ...extra) {
  const button = h("button", { type: "submit", className: "primary" }, submitText);
  const el = h("form", { "aria-label": label, className: "form", novalidate: true },
    Object.values(fields).map((f) => f.el), h("div", { className: "actions" }, button, extra));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages(el);
    const values = {};
    for (const [key, f] of Object.entries(fields)) {
      values[key] = f.input.type === "checkbox" ? f.input.checked : f.input.value;
    }
    button.disabled = true;
    try {
      await onSubmit(values);
    } catch (err) {
      msg.error(err);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

// button is a plain button that runs fn on click; an error goes to msg.
export function button(text, fn, msg, className = "") {
  const el = h("button", { type: "button", className }, text);
  el.addEventListener("click", async () => {
    clearMessages(el);
    el.disabled = true;
    try {
      await fn();
    } catch (err) {
      if (msg) msg.error(err);
    } finally {
      el.disabled = false;
    }
  });
  return el;
}

// messages is an area for one role=alert (errors) or role=status
// (successes) line at a time. The element is made when shown, so an
// empty area holds no alert.
export function messages() {
  const el = h("div", { className: "messages" });
  const show = (role, text) => {
    clear(el).append(h("p", { role, className: role === "alert" ? "msg error" : "msg ok" }, text));
  };
  return {
    el,
    ok: (text) => show("status", text),
    error: (err) => show("alert", errorText(err)),
    clear: () => clear(el),
  };
}

// clearMessages empties every message area of the view around el.
function clearMessages(el) {
  const view = el.closest(".view") || document;
  for (const area of view.querySelectorAll(".messages")) clear(area);
}

// errorText turns an error (an ApiError from api.js, or any Error) into
// a sentence for people: the problem's detail, with the fields of a 422
// and plain words for an API that cannot be reached.
export function errorText(err) {
  if (!err || typeof err !== "object") return String(err);
  if (err.status === 0) return "The authfn API cannot be reached. Check the network connection and try again.";
  if (err.status === 503) return `The service is unavailable right now; try again in a moment. ${err.detail || ""}`.trim();
  if (err.code === "mfa_enrollment_required") {
    return "Admins must turn on two-factor authentication (under My account) before using the admin views.";
  }
  if (err.status === 409 && /last active admin/i.test(err.detail || "")) {
    return `You cannot remove the last active admin. ${err.detail}`;
  }
  const fields = (err.errors || []).map((e) => `${e.field}: ${e.message}`);
  const detail = err.detail || err.message || "Something went wrong.";
  return fields.length ? `${detail} (${fields.join("; ")})` : detail;
}

// table builds a <table> with a caption and header row; rows are
// {attrs, cells}, a cell a node or text. With no rows it says empty.
// Each cell carries its column's name (data-label), which the phone
// layout shows beside the value when the rows stack.
export function table(caption, headers, rows, empty = "Nothing to show.") {
  const body = rows.length
    ? rows.map((row) => h("tr", row.attrs || {}, row.cells.map((cell, i) => h("td", { "data-label": headers[i] }, cell))))
    : [h("tr", {}, h("td", { colspan: headers.length, className: "empty" }, empty))];
  return h("div", { className: "table-wrap" },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, body)));
}

// confirm asks in a modal <dialog> and resolves true for okText, false
// for Cancel or Escape. No window.confirm: it cannot be styled or
// tested, and some browsers suppress it.
export function confirm(question, okText) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { className: "confirm" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const ok = h("button", { type: "button", className: "danger", onclick: () => done(true) }, okText);
    const cancel = h("button", { type: "button", onclick: () => done(false) }, "Cancel");
    dialog.append(h("p", {}, question), h("div", { className: "actions" }, ok, cancel));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// pagedList shows a table fed by a cursor-paged API call. fetchPage
// (cursor) resolves {rows, next}; render(rows) makes the table. The
// back button is "Previous" (one page back) or, for newest-first logs,
// "Newest" (the first page). Errors go to msg.
export function pagedList(fetchPage, render, msg, back = "Previous") {
  const cursors = [null]; // the cursor of each page seen; [0] is the first
  let next = null;
  const holder = h("div", { className: "list" });
  const load = async () => {
    try {
      const page = await fetchPage(cursors[cursors.length - 1]);
      next = page.next;
      clear(holder).append(render(page.rows));
    } catch (err) {
      msg.error(err);
    }
    prev.disabled = cursors.length === 1;
    more.disabled = !next;
  };
  const prev = h("button", { type: "button", disabled: true }, back);
  prev.addEventListener("click", () => {
    if (back === "Previous") cursors.pop();
    else cursors.length = 1;
    load();
  });
  const more = h("button", { type: "button", disabled: true }, "Next");
  more.addEventListener("click", () => {
    cursors.push(next);
    load();
  });
  const el = h("div", {}, holder, h("div", { className: "pager" }, prev, more));
  return {
    el,
    reload: load,
    first: () => {
      cursors.length = 1;
      return load();
    },
  };
}

// when shows an RFC 3339 time in the browser's locale.
export function when(iso) {
  if (!iso) return "Never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// yesNo renders a flag.
export function yesNo(flag) {
  return flag ? "Yes" : "No";
}

// view is the frame of every view: the h1 and the view's messages.
export function view(title, msg, ...children) {
  return h("section", { className: "view" }, h("h1", {}, title), msg ? msg.el : null, children);
}
