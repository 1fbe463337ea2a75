// Overview: the service at a glance, from GET /stats: counts of users
// and sessions, and logins per hour over the last day as an SVG chart.

import * as api from "/api/auth/v2/console/api.js";
import { h, svg, uid, clear, messages, view } from "/api/auth/v2/console/dom.js";

const HOURS = 24;
const SERIES = [["succeeded", "Succeeded"], ["failed", "Failed"]];

export function render() {
  const msg = messages();
  const body = h("div", { className: "overview" }, h("p", { className: "loading" }, "Loading…"));
  load(body, msg);
  return view("Overview", msg, body);
}

async function load(body, msg) {
  try {
    const stats = await api.call("GET", `/stats?hours=${HOURS}`);
    clear(body).append(cards(stats), chart(stats.logins));
  } catch (err) {
    clear(body);
    msg.error(err);
  }
}

function cards({ users, sessions }) {
  const items = [
    ["Users", users.total], ["Active users", users.active], ["Admins", users.admins],
    ["MFA enabled", users.mfa_enabled], ["Live sessions", sessions.active_sessions],
    ["Signed-in users", sessions.active_users],
  ];
  return h("dl", { className: "stats" }, items.map(([label, n]) =>
    h("div", { className: "stat" }, h("dt", {}, label), h("dd", {}, n.toLocaleString()))));
}

// chart draws one pair of bars per hour, succeeded beside failed, with
// an hour label every third hour. Each bar's <title> carries its number,
// so the figures are there for a screen reader and on hover.
function chart(logins) {
  const width = 960, height = 260, left = 36, bottom = 28, top = 12;
  const plotH = height - top - bottom;
  const slot = (width - left) / logins.length;
  const bar = Math.max(2, (slot - 4) / 2);
  const max = Math.max(1, ...logins.flatMap((l) => [l.succeeded, l.failed]));
  const titleId = uid("chart");
  const hourFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric" });
  const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
  const y = (n) => top + plotH - (n / max) * plotH;

  const chartEl = svg("svg", { role: "img", "aria-labelledby": titleId, viewBox: `0 0 ${width} ${height}`, class: "chart" },
    svg("title", { id: titleId }, `Logins per hour, last ${HOURS} hours`),
    svg("line", { x1: left, y1: y(0), x2: width, y2: y(0), class: "axis" }),
    svg("line", { x1: left, y1: y(max), x2: width, y2: y(max), class: "grid" }),
    svg("text", { x: left - 6, y: y(max) + 4, class: "tick", "text-anchor": "end" }, String(max)),
    svg("text", { x: left - 6, y: y(0) + 4, class: "tick", "text-anchor": "end" }, "0"));

  logins.forEach((l, i) => {
    const hour = new Date(l.hour);
    const x = left + i * slot + 2;
    SERIES.forEach(([key, label], j) => {
      const n = l[key];
      chartEl.append(svg("rect", { x: x + j * bar, y: y(n), width: bar, height: y(0) - y(n), class: key },
        svg("title", {}, `${fullFmt.format(hour)}: ${n} ${label.toLowerCase()}`)));
    });
    if (i % 3 === 0) {
      chartEl.append(svg("text", { x: x + bar, y: height - 8, class: "tick", "text-anchor": "middle" }, hourFmt.format(hour)));
    }
  });

  const legend = h("ul", { className: "legend" }, SERIES.map(([key, label]) =>
    h("li", {}, h("span", { className: `swatch ${key}`, "aria-hidden": "true" }), label)));
  return h("figure", { className: "card chart-card" },
    h("figcaption", {}, `Logins per hour, last ${HOURS} hours`), chartEl, legend);
}
