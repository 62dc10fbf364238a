// Data quality and freshness: the manifest gives the data's reference date and the last refresh;
// quality.json (the data-quality checks) gives the checks that fail. Shape tolerated: see README.

import { el } from "./dom.js";
import { chartConfig } from "./widgets.js";
import { formatCount, formatDate, formatNumber, formatPct, formatTimestamp, humanize } from "./format.js";

export const QUALITY_FILE = "quality.json";

const FAILING = new Set(["fail", "failed", "failing", "open", "error", "warn", "warning", "violated"]);

function pick(row, names) {
  for (const n of names) if (row[n] !== undefined && row[n] !== null) return row[n];
  return undefined;
}

/** Is a check row failing? Understands passed/ok booleans, a status text, or a count of bad rows. */
export function isFailing(row) {
  const passed = pick(row, ["passed", "ok", "isPassing"]);
  if (typeof passed === "boolean") return !passed;
  const status = pick(row, ["status", "state", "result", "outcome"]);
  if (typeof status === "string") return FAILING.has(status.toLowerCase());
  const failed = pick(row, ["failed", "isFailing"]);
  if (typeof failed === "boolean") return failed;
  const affected = pick(row, ["affectedCount", "affectedRows", "failingRows", "failedRows", "affected"]);
  return typeof affected === "number" ? affected > 0 : false;
}

export function qualityChecks(payload) {
  const rows = Array.isArray(payload.checks) ? payload.checks : payload.rows;
  return { rows, failing: rows.filter(isFailing) };
}

function examples(row) {
  const keys = pick(row, ["sampleKeys", "examples", "samples"]);
  if (Array.isArray(keys)) return keys.slice(0, 3).map(String).join(", ") + (keys.length > 3 ? ", …" : "");
  return keys == null ? "" : String(keys);
}

export function failingTable(ctx, failing) {
  return ctx.table({
    caption: "Checks failing, blocking first",
    rows: failing,
    rowKey: (r, i) => pick(r, ["checkName", "check", "name"]) ?? i,
    columns: [
      { key: "check", label: "Check", wrap: true, value: (r) => pick(r, ["checkName", "check", "name", "title"]), format: (v) => (v == null ? "—" : humanize(v)) },
      { key: "dimension", label: "Dimension", value: (r) => pick(r, ["dimension"]) },
      { key: "severity", label: "Severity", value: (r) => pick(r, ["severity"]), format: (v, r) => `${v ?? "—"}${r.blocking ? " (blocking)" : ""}` },
      { key: "table", label: "Table", value: (r) => pick(r, ["tableName", "table", "asset", "object"]) },
      {
        key: "affected",
        label: "Rows affected",
        num: true,
        value: (r) => pick(r, ["affectedCount", "affectedRows", "failingRows", "failedRows", "affected", "count"]),
        format: (v) => (typeof v === "number" ? formatCount(v) : "—"),
      },
      {
        key: "rate",
        label: "Rate",
        num: true,
        value: (r) => pick(r, ["failingRatePct", "failureRatePct", "ratePct"]),
        format: (v, r) => {
          const limit = pick(r, ["thresholdPct"]);
          const rate = typeof v === "number" ? formatPct(v, 2) : "—";
          return typeof limit === "number" ? `${rate} (limit ${formatPct(limit, 2)})` : rate;
        },
      },
      { key: "examples", label: "Examples", wrap: true, value: examples },
    ],
  });
}

/** Executive tab widget and quality dialog: the data-quality checks. */
export function qualityWidgetRender(ctx, payload) {
  const { rows, failing } = qualityChecks(payload);
  const summary = payload.summary && typeof payload.summary === "object" ? payload.summary : {};
  const blocking = typeof summary.blockingFailed === "number" ? summary.blockingFailed : failing.filter((r) => r.blocking).length;
  const parts = [
    ctx.cards([
      { id: "checks", label: "Checks evaluated", value: formatCount(typeof summary.checks === "number" ? summary.checks : rows.length) },
      {
        id: "failing",
        label: "Checks failing",
        value: formatCount(failing.length),
        delta: failing.length ? { text: blocking ? `${formatCount(blocking)} blocking` : "warnings only", good: false } : { text: "all pass", good: true },
      },
      typeof summary.affectedRows === "number" ? { id: "affected", label: "Rows affected", value: formatCount(summary.affectedRows) } : null,
      summary.gate ? { id: "gate", label: "KPI gate", value: summary.gate === "pass" ? "Open" : "Blocked", sub: summary.gate === "pass" ? "KPIs built on this data" : "blocking checks stop the KPIs" } : null,
    ].filter(Boolean)),
  ];
  const dims = Array.isArray(payload.byDimension) ? payload.byDimension : [];
  if (dims.length) {
    parts.push(
      ctx.chart(
        chartConfig({
          type: "bar",
          labels: dims.map((d) => humanize(d.dimension)),
          datasets: [
            { label: "Passed", data: dims.map((d) => d.passed ?? d.checks - d.failed), color: "#16a34a" },
            { label: "Failed", data: dims.map((d) => d.failed), color: "#dc2626" },
          ],
          y: "count",
          stacked: true,
          horizontal: true,
        }),
        { label: "Checks passed and failed per dimension", height: 60 + 30 * dims.length },
      ),
    );
  }
  if (failing.length) parts.push(failingTable(ctx, failing));
  else parts.push(ctx.note("Every data-quality check passed on the last run."));
  const trend = Array.isArray(payload.trend) ? payload.trend : [];
  if (trend.length > 1) {
    parts.push(
      ctx.chart(
        chartConfig({
          type: "line",
          labels: trend.map((t) => formatDate(t.referenceDate)),
          datasets: [{ label: "Checks failing", data: trend.map((t) => t.failed), pointRadius: 3 }],
          y: "count",
        }),
        { label: "Checks failing over the last runs", height: 180 },
      ),
    );
  }
  return parts;
}

/** Manifest as a payload: one row per exported file. */
export function manifestPayload(manifest) {
  return {
    referenceDate: manifest.referenceDate,
    generatedAt: manifest.generatedAt,
    period: { to: manifest.referenceDate },
    rows: Object.entries(manifest.files).map(([file, meta]) => ({ file, ...meta })),
  };
}

/** Executive tab widget: freshness (reference date, last refresh, files). */
export function freshnessRender(ctx, payload) {
  const bytes = payload.rows.reduce((a, r) => a + (r.bytes || 0), 0);
  return [
    ctx.cards([
      { id: "as-of", label: "Data as of", value: formatDate(payload.referenceDate), sub: "latest order date in the source" },
      { id: "refreshed", label: "Last refresh", value: formatTimestamp(payload.generatedAt), small: true, sub: "when the JSON files were written" },
      { id: "files", label: "Files exported", value: formatCount(payload.rows.length), sub: `${formatNumber(bytes / 1024, 1)} KB in all` },
    ]),
  ];
}

/** The header's summary text for the quality chip. */
export function qualitySummary(state, payload) {
  if (state === "ready") {
    const { rows, failing } = qualityChecks(payload);
    return failing.length ? `${failing.length} of ${rows.length} checks failing` : `all ${rows.length} checks pass`;
  }
  if (state === "nodata") return "checks not exported yet";
  if (state === "error") return "checks unavailable";
  return "checks loading…";
}

export function freshnessLines(manifest) {
  return [
    el("p", {}, "Data as of ", el("strong", { dataset: { asOf: "" }, text: formatDate(manifest.referenceDate) })),
    el("p", {}, "Last refresh ", el("strong", { text: formatTimestamp(manifest.generatedAt) })),
  ];
}
