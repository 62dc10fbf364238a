// Business alerts (alerts.json): the bell in the header with counts per severity, the dialog that
// lists the open alerts, and the Executive tab's summary. Shape: see dashboard/README.md.

import { clear, el } from "./dom.js";
import { formatCount, formatDate, formatTimestamp, parseCalendarDate } from "./format.js";

export const ALERTS_FILE = "alerts.json";
export const SEVERITIES = ["critical", "warning", "info"];

function severityOf(row) {
  const s = String(row.severity || "").toLowerCase();
  return SEVERITIES.includes(s) ? s : "info";
}

/** Counts per severity: the export's own counts (all open alerts), else counted from the rows. */
export function alertCounts(payload) {
  const counts = { critical: 0, warning: 0, info: 0 };
  const given = payload && payload.counts;
  if (given && typeof given === "object" && SEVERITIES.some((s) => typeof given[s] === "number")) {
    for (const s of SEVERITIES) counts[s] = typeof given[s] === "number" ? given[s] : 0;
  } else {
    for (const row of payload.rows) counts[severityOf(row)] += 1;
  }
  counts.total = counts.critical + counts.warning + counts.info;
  return counts;
}

function when(value) {
  if (parseCalendarDate(value)) return formatDate(value);
  return formatTimestamp(value);
}

export function severityBadge(severity, textValue) {
  return el("span", { class: `sev sev--${severity}`, dataset: { severity }, text: textValue ?? severity });
}

/** The list of alerts (most severe first, as exported). */
export function alertList(rows, limit) {
  const shown = limit ? rows.slice(0, limit) : rows;
  return el(
    "ul",
    { class: "alert-list" },
    shown.map((row, i) =>
      el(
        "li",
        { class: `alert alert--${severityOf(row)}`, dataset: { alert: i, severity: severityOf(row) } },
        el("div", { class: "alert-head" }, severityBadge(severityOf(row)), el("strong", { class: "alert-title", text: row.title ?? row.alertType ?? "Alert" })),
        row.detail ? el("p", { class: "alert-detail", text: row.detail }) : null,
        el("p", {
          class: "alert-meta",
          text: [
            row.alertType ? String(row.alertType).replace(/_/g, " ") : null,
            row.firstSeen ? `first seen ${when(row.firstSeen)}` : null,
            row.lastSeen ? `last seen ${when(row.lastSeen)}` : null,
          ]
            .filter(Boolean)
            .join(" · "),
        }),
      ),
    ),
  );
}

export function countsRow(counts) {
  return el(
    "div",
    { class: "sev-counts" },
    SEVERITIES.map((s) =>
      el("span", { class: `sev-count sev-count--${s}`, dataset: { count: s } }, severityBadge(s, `${formatCount(counts[s])} ${s}`)),
    ),
  );
}

/** Updates the header bell. state: "loading" | "ready" | "nodata" | "error". */
export function renderBell(button, state, payload, message) {
  const badge = button.querySelector("[data-bell-total]");
  const pills = button.querySelector("[data-bell-severities]");
  clear(pills);
  button.dataset.state = state;
  if (state !== "ready") {
    badge.textContent = state === "loading" ? "…" : "–";
    const why =
      state === "nodata"
        ? "Alerts: not exported yet"
        : state === "error"
          ? `Alerts unavailable: ${message}`
          : "Alerts: loading";
    button.setAttribute("aria-label", why);
    button.title = why;
    return;
  }
  const counts = alertCounts(payload);
  badge.textContent = formatCount(counts.total);
  button.dataset.total = String(counts.total);
  for (const s of SEVERITIES) {
    pills.append(el("span", { class: `pill pill--${s}`, dataset: { count: s }, attrs: { title: s }, text: formatCount(counts[s]) }));
  }
  const label = `Open alerts: ${counts.critical} critical, ${counts.warning} warning, ${counts.info} info`;
  button.setAttribute("aria-label", label);
  button.title = label;
}

/** Open alerts per type and severity ({"<type>": {critical, warning, info, total}}), if exported. */
function byTypeTable(byType) {
  if (!byType || typeof byType !== "object" || Array.isArray(byType)) return null;
  const types = Object.entries(byType).filter(([, c]) => c && typeof c === "object");
  if (!types.length) return null;
  const cell = (v) => el("td", { class: "num", text: typeof v === "number" ? formatCount(v) : "—" });
  return el(
    "div",
    { class: "table-wrap", attrs: { tabindex: "0", role: "region", "aria-label": "Open alerts by type" } },
    el(
      "table",
      { dataset: { table: "alerts-by-type" } },
      el("caption", { text: "Open alerts by type" }),
      el(
        "thead",
        {},
        el("tr", {}, ["Type", ...SEVERITIES, "total"].map((h, i) => el("th", { class: i ? "num" : "", attrs: { scope: "col" }, text: h }))),
      ),
      el(
        "tbody",
        {},
        types.map(([type, c]) =>
          el(
            "tr",
            { dataset: { row: type } },
            el("td", { text: type.replace(/_/g, " ") }),
            ...SEVERITIES.map((s) => cell(c[s])),
            cell(typeof c.total === "number" ? c.total : SEVERITIES.reduce((a, s) => a + (c[s] || 0), 0)),
          ),
        ),
      ),
    ),
  );
}

/** Fills the alerts dialog body. */
export function renderAlertsDialog(body, state, payload, message) {
  clear(body);
  if (state === "nodata") {
    body.append(
      el(
        "div",
        { class: "state state--nodata" },
        el("strong", { text: "No alerts data yet" }),
        el("span", { text: "alerts.json has not been exported yet: the business alerts appear here once the pipeline writes it." }),
      ),
    );
    return;
  }
  if (state === "error") {
    body.append(el("div", { class: "state state--error", attrs: { role: "alert" } }, el("strong", { text: "Could not load the alerts" }), el("span", { text: message })));
    return;
  }
  if (state === "loading") {
    body.append(el("p", { class: "state", text: "Loading…" }));
    return;
  }
  const counts = alertCounts(payload);
  body.append(
    el("p", { class: "widget-period", text: payload.referenceDate ? `Open alerts as of ${formatDate(payload.referenceDate)}` : "Open alerts" }),
    countsRow(counts),
  );
  const byType = byTypeTable(payload.byType);
  if (byType) body.append(byType);
  if (!payload.rows.length) {
    body.append(el("p", { class: "state state--empty", text: "No open alerts." }));
    return;
  }
  body.append(alertList(payload.rows));
  if (counts.total > payload.rows.length) {
    body.append(el("p", { class: "note", text: `Showing the ${payload.rows.length} most severe of ${counts.total} open alerts.` }));
  }
}

/** Executive tab widget. */
export function alertsWidgetRender(ctx, payload) {
  const counts = alertCounts(payload);
  const parts = [countsRow(counts)];
  if (payload.rows.length) parts.push(alertList(payload.rows, 5));
  else parts.push(ctx.note("No open alerts."));
  if (payload.rows.length > 5 || counts.total > 5) parts.push(ctx.note("All open alerts: the bell at the top of the page."));
  return parts;
}
