// Executive tab: the headline figures of every domain, alerts, data quality and freshness.

import { alertsWidgetRender } from "../alerts.js";
import { freshnessRender, qualityWidgetRender } from "../quality.js";
import { chart, cols, count, date, delta, findRow, inr, num, pct, rowPeriod, text } from "./common.js";
import { monthlyTrend } from "./sales.js";

function executiveCards(ctx, data) {
  const windowDays = data.comparisonWindowDays;
  const recent = findRow(data.rows, "period", "last_N_days");
  const all = findRow(data.rows, "period", "all_time");
  const against = `vs previous ${windowDays} days`;
  const recentPeriod = rowPeriod(recent, "periodStart", "periodEnd");
  const allPeriod = rowPeriod(all, "periodStart", "periodEnd");
  return ctx.cards([
    {
      id: "revenue-recent",
      label: `Revenue, last ${windowDays} days`,
      value: inr(recent.revenue),
      delta: delta(recent.revenueGrowthPct, against),
      period: recentPeriod,
    },
    {
      id: "orders-recent",
      label: `Orders, last ${windowDays} days`,
      value: count(recent.orders),
      delta: delta(recent.ordersGrowthPct, against),
      period: recentPeriod,
    },
    {
      id: "customers-recent",
      label: `Customers, last ${windowDays} days`,
      value: count(recent.customers),
      period: recentPeriod,
    },
    { id: "revenue-all", label: "Revenue, all time", value: inr(all.revenue), period: allPeriod },
    { id: "orders-all", label: "Orders, all time", value: count(all.orders), period: allPeriod },
    { id: "aov-all", label: "Average order value", value: inr(all.aov), period: allPeriod },
    { id: "as-of", label: "Reference date", value: date(data.referenceDate), sub: "latest order in the data" },
  ]);
}

function categoryMix(ctx, data) {
  const rows = data.rows.slice(0, 8);
  const rest = data.rows.slice(8).reduce((a, r) => a + r.netRevenue, 0);
  const labels = rows.map((r) => r.category).concat(rest > 0 ? ["Other categories"] : []);
  const values = rows.map((r) => r.netRevenue).concat(rest > 0 ? [rest] : []);
  return ctx.chart(chart("doughnut", labels, [{ label: "Net revenue", data: values }], { y: "inr" }), {
    label: "Net revenue by category",
    height: 280,
  });
}

function customerSegments(ctx, data) {
  const rows = data.rows;
  return ctx.chart(
    chart("bar", rows.map((r) => r.rfmSegment), [{ label: "Share of revenue %", data: rows.map((r) => r.revenueSharePct) }], {
      y: "pct",
      horizontal: true,
      legend: false,
    }),
    { label: "Share of revenue by RFM segment", height: 60 + 24 * rows.length },
  );
}

function operationsCards(ctx, data) {
  const s = data.rows[0];
  return ctx.cards([
    { id: "on-time", label: `Shipped within ${s.slaDays} days`, value: pct(s.onTimePct) },
    { id: "deliver-days", label: "Order to delivery", value: `${num(s.avgOrderToDeliverDays)} days` },
    { id: "open-orders", label: "Open orders", value: count(s.openOrders) },
    { id: "return-rate", label: "Return rate", value: pct(s.returnRatePct) },
  ]);
}

function marketingCards(ctx, data) {
  const all = findRow(data.rows, "period", "all_time");
  return ctx.cards([
    { id: "spend", label: "Marketing spend", value: inr(all.spend) },
    { id: "conversions", label: "Conversions", value: count(all.conversions) },
    { id: "cpa", label: "Cost per conversion", value: inr(all.cpa) },
    { id: "roi", label: "ROI (attributed)", value: pct(all.roiPct) },
  ]);
}

function topStores(ctx, data) {
  const rows = data.rows.filter((r) => r.rankGroup !== "bottom").slice(0, 5);
  return ctx.table({
    rows,
    rowKey: (r) => r.storeId,
    columns: cols([
      ["profitRank", "#", count],
      ["storeName", "Store", (v) => String(v).replace(/^RetailMart /, ""), false],
      ["revenue", "Revenue", inr],
      ["netMarginPct", "Margin", pct],
      ["performanceTier", "Tier", text, false],
    ]),
  });
}

export const EXECUTIVE_WIDGETS = [
  { id: "exec-kpis", title: "Key figures", file: "sales/executive_summary.json", size: "full", render: executiveCards },
  {
    id: "exec-trend",
    title: "Revenue trend",
    file: "sales/monthly.json",
    size: "wide",
    render: (ctx, data) => monthlyTrend(ctx, data, { withTable: false }),
  },
  { id: "exec-categories", title: "Category mix", file: "products/categories.json", render: categoryMix },
  { id: "exec-segments", title: "Customer segments", file: "customers/rfm_segments.json", render: customerSegments },
  { id: "exec-stores", title: "Top stores by net profit", file: "stores/rankings.json", render: topStores },
  { id: "exec-operations", title: "Operations", file: "operations/summary.json", render: operationsCards },
  { id: "exec-marketing", title: "Marketing", file: "marketing/roi_summary.json", render: marketingCards },
  { id: "exec-alerts", title: "Open alerts", file: "alerts.json", allowEmpty: true, render: alertsWidgetRender, periodText: (d) => (d.referenceDate ? `as of ${date(d.referenceDate)}` : "") },
  { id: "exec-freshness", title: "Freshness", file: "manifest.json", allowEmpty: true, render: freshnessRender, periodText: (d) => `Data as of ${date(d.referenceDate)}` },
  { id: "exec-quality", title: "Data quality", file: "quality.json", size: "full", allowEmpty: true, render: qualityWidgetRender },
];
