// Widgets: a card with a title, the period its figures cover, and a body drawn from one JSON file.
// Each widget has its own state (loading, ready, empty, unavailable, nodata, error), so a missing or
// malformed file breaks only the widgets that read it.

import { clear, el } from "./dom.js";
import { formatDate, formatINR, formatNumber, formatPeriod } from "./format.js";

export const PALETTE = [
  "#2563eb",
  "#16a34a",
  "#f59e0b",
  "#dc2626",
  "#7c3aed",
  "#0891b2",
  "#db2777",
  "#65a30d",
  "#ea580c",
  "#475569",
];

let chartDefaultsSet = false;

function chartLibrary() {
  const Chart = window.Chart;
  if (!Chart) return null;
  if (!chartDefaultsSet) {
    Chart.defaults.animation = false;
    Chart.defaults.responsive = true;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family =
      'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif';
    Chart.defaults.color = "#334155";
    Chart.defaults.plugins.legend.position = "bottom";
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
    chartDefaultsSet = true;
  }
  return Chart;
}

/** Axis and tooltip formatters for a value kind: "inr", "count", "pct", "number". */
export function valueFormatter(kind) {
  switch (kind) {
    case "inr":
      return formatINR;
    case "pct":
      return (v) => `${formatNumber(v, 1)}%`;
    case "count":
      return (v) => formatNumber(v, 0);
    default:
      return (v) => formatNumber(v, 2);
  }
}

/** A Chart.js config with dashboard defaults: y (and y2) axes formatted by their kind. */
export function chartConfig({ type, labels, datasets, y = "number", y2 = null, stacked = false, horizontal = false, legend = true }) {
  const fmtY = valueFormatter(y);
  const fmtY2 = y2 ? valueFormatter(y2) : null;
  const valueAxis = horizontal ? "x" : "y";
  const scales =
    type === "doughnut" || type === "pie"
      ? {}
      : {
          [valueAxis]: {
            beginAtZero: true,
            stacked,
            ticks: { callback: (v) => fmtY(v) },
          },
          [horizontal ? "y" : "x"]: {
            stacked,
            // Few categories: every label, tilted if needed; long series: skip labels, stay flat.
            ticks: { autoSkip: true, maxRotation: labels.length <= 12 ? 45 : 0 },
          },
        };
  if (fmtY2) {
    scales.y2 = {
      position: "right",
      beginAtZero: true,
      grid: { drawOnChartArea: false },
      ticks: { callback: (v) => fmtY2(v) },
    };
  }
  return {
    type,
    data: {
      labels,
      datasets: datasets.map((ds, i) => {
        const color = ds.color || PALETTE[i % PALETTE.length];
        const pie = type === "doughnut" || type === "pie";
        return {
          borderWidth: pie ? 1 : 2,
          pointRadius: (ds.type || type) === "line" ? 0 : undefined,
          cubicInterpolationMode: "monotone", // smooth, without overshooting the data
          ...ds,
          backgroundColor: ds.backgroundColor || (pie ? labels.map((_, j) => PALETTE[j % PALETTE.length]) : color),
          borderColor: ds.borderColor || (pie ? "#fff" : color),
        };
      }),
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: type === "doughnut" ? "nearest" : "index", intersect: false },
      scales,
      plugins: {
        legend: { display: legend },
        tooltip: {
          callbacks: {
            label(context) {
              const ds = context.dataset;
              const fmt = ds.yAxisID === "y2" && fmtY2 ? fmtY2 : ds.format ? valueFormatter(ds.format) : fmtY;
              const raw = typeof context.raw === "number" ? context.raw : context.parsed;
              const value = typeof raw === "number" ? raw : horizontal ? context.parsed.x : context.parsed.y;
              const name = type === "doughnut" || type === "pie" ? context.label : ds.label;
              return `${name}: ${fmt(value)}`;
            },
          },
        },
      },
    },
  };
}

export class WidgetContext {
  constructor(widget) {
    this.widget = widget;
    this.pendingCharts = [];
  }

  /** A chart placeholder; the Chart is created once the widget is in the page. */
  chart(config, { label, height } = {}) {
    const canvas = el("canvas", { attrs: { role: "img", "aria-label": label || this.widget.spec.title } });
    const box = el("div", { class: "chart", dataset: { chart: this.widget.spec.id } }, canvas);
    if (height) box.style.height = `${height}px`;
    this.pendingCharts.push({ canvas, box, config });
    return box;
  }

  /** Key figures: [{label, value, sub, period, delta: {text, good}}]. */
  cards(items) {
    return el(
      "div",
      { class: "cards" },
      items.map((item) =>
        el(
          "div",
          { class: "card", dataset: { card: item.id || item.label } },
          el("div", { class: "card-label", text: item.label }),
          el("div", { class: item.small ? "card-value card-value--small" : "card-value", text: item.value }),
          item.delta
            ? el("div", {
                class: `card-delta ${item.delta.good === true ? "good" : item.delta.good === false ? "bad" : ""}`,
                text: item.delta.text,
              })
            : null,
          item.sub ? el("div", { class: "card-sub", text: item.sub }) : null,
          item.period ? el("div", { class: "card-period", text: item.period }) : null,
        ),
      ),
    );
  }

  /**
   * A table: columns [{key, label, format(value, row), num: bool}], rows; limit shows the first N.
   * Cells are text only.
   */
  table({ columns, rows, caption, limit, rowKey }) {
    const shown = limit ? rows.slice(0, limit) : rows;
    const table = el(
      "table",
      { dataset: { table: this.widget.spec.id } },
      caption ? el("caption", { text: caption }) : null,
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          columns.map((c) => el("th", { class: c.num ? "num" : c.wrap ? "wrap" : "", attrs: { scope: "col" }, text: c.label })),
        ),
      ),
      el(
        "tbody",
        {},
        shown.map((row, i) =>
          el(
            "tr",
            { dataset: { row: rowKey ? rowKey(row, i) : i } },
            columns.map((c) => {
              const raw = typeof c.value === "function" ? c.value(row) : row[c.key];
              const text = c.format ? c.format(raw, row) : raw == null ? "—" : String(raw);
              const td = el("td", { class: c.num ? "num" : c.wrap ? "wrap" : "", text });
              if (c.shade && typeof raw === "number") {
                // Heat-map cell: 0..1 → light to dark (CSSOM, allowed by the page's CSP).
                const x = Math.max(0, Math.min(1, c.shade(raw, row)));
                td.style.backgroundColor = `rgba(37, 99, 235, ${(0.06 + 0.74 * x).toFixed(3)})`;
                if (x > 0.55) td.style.color = "#fff";
              }
              return td;
            }),
          ),
        ),
      ),
    );
    const wrap = el("div", { class: "table-wrap", attrs: { tabindex: "0", role: "region", "aria-label": caption || this.widget.spec.title } }, table);
    if (limit && rows.length > limit) {
      return [wrap, el("p", { class: "note", text: `Showing ${limit} of ${rows.length} rows.` })];
    }
    return wrap;
  }

  note(text, cls = "note") {
    return el("p", { class: cls, text });
  }
}

/** The widget's period line: "1 Jan 2024 – 1 Oct 2025", or "As of 1 Oct 2025" for a snapshot. */
export function periodLabel(period) {
  if (period && period.from && period.from === period.to) return `As of ${formatDate(period.to)}`;
  return formatPeriod(period);
}

const STATE_TEXT = {
  loading: "Loading…",
  nodata: "No data yet",
  empty: "No rows for this period",
  unavailable: "Not available",
  error: "Could not show this widget",
};

export class Widget {
  constructor(spec) {
    this.spec = spec;
    this.charts = [];
    this.title = el("h3", { class: "widget-title", text: spec.title });
    this.period = el("p", { class: "widget-period" });
    this.body = el("div", { class: "widget-body" });
    this.node = el(
      "section",
      {
        class: `widget ${spec.size ? `widget--${spec.size}` : ""}`,
        dataset: { widget: spec.id, file: spec.file || "", state: "loading" },
        attrs: { "aria-busy": "true" },
      },
      el("header", { class: "widget-head" }, this.title, this.period),
      this.body,
    );
    this.setState("loading");
  }

  destroyCharts() {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }

  setState(state, message) {
    this.node.dataset.state = state;
    this.node.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    if (state === "ready") return;
    this.destroyCharts();
    clear(this.body);
    const box = el(
      "div",
      { class: `state state--${state}`, attrs: state === "error" ? { role: "alert" } : {} },
      el("strong", { text: STATE_TEXT[state] || state }),
      message ? el("span", { text: message }) : null,
    );
    this.body.append(box);
  }

  setPeriod(text) {
    this.period.textContent = text || "";
  }

  /** Draws the widget from its payload (already validated as {rows: [...]}). */
  render(payload) {
    const spec = this.spec;
    this.setPeriod(spec.periodText ? spec.periodText(payload) : periodLabel(payload.period));
    if (payload.available === false) {
      this.setState("unavailable", String(payload.reason || "The source data does not support this figure."));
      return;
    }
    if (!spec.allowEmpty && payload.rows.length === 0) {
      this.setState("empty", spec.emptyText || "The export has no rows for this period.");
      return;
    }
    const ctx = new WidgetContext(this);
    let nodes;
    try {
      nodes = spec.render(ctx, payload);
    } catch (err) {
      this.setState("error", `${spec.file} has an unexpected shape (${err.message}).`);
      return;
    }
    this.destroyCharts();
    clear(this.body);
    this.body.append(...[nodes].flat(Infinity).filter(Boolean));
    this.node.dataset.state = "ready";
    this.node.setAttribute("aria-busy", "false");
    if (ctx.pendingCharts.length) {
      const Chart = chartLibrary();
      for (const { canvas, box, config } of ctx.pendingCharts) {
        if (!Chart) {
          box.replaceChildren(
            el("p", { class: "state state--error", text: "Charts unavailable: Chart.js is not installed (run npm ci in dashboard/)." }),
          );
          this.node.dataset.charts = "missing";
          continue;
        }
        this.charts.push(new Chart(canvas, config));
      }
    }
  }

  fail(err) {
    if (err && err.kind === "unexported") {
      this.setPeriod("");
      this.setState("nodata", `${err.file} has not been exported yet.`);
    } else {
      this.setState("error", err && err.message ? err.message : String(err));
    }
  }
}
