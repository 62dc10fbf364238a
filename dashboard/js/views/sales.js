// Sales tab: executive summary cards, monthly revenue trend, daily sales with moving average,
// day of week, weekend vs weekday, payment modes, quarterly, returns, hourly pattern.

import {
  chart,
  cols,
  count,
  date,
  delta,
  distinct,
  findRow,
  formatMonth,
  formatShortDate,
  groupBy,
  inr,
  inrFull,
  month,
  pct,
  rowPeriod,
  sum,
  text,
} from "./common.js";

export function salesCards(ctx, data) {
  const windowDays = data.comparisonWindowDays;
  const recent = findRow(data.rows, "period", "last_N_days");
  const all = findRow(data.rows, "period", "all_time");
  const day = findRow(data.rows, "period", "reference_day");
  const against = `vs previous ${windowDays} days`;
  const recentPeriod = `Last ${windowDays} days: ${rowPeriod(recent, "periodStart", "periodEnd")}`;
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
      id: "aov-recent",
      label: "Average order value",
      value: inr(recent.aov),
      delta: delta(recent.aovGrowthPct, against),
      period: recentPeriod,
    },
    {
      id: "net-revenue-recent",
      label: "Net revenue (after refunds)",
      value: inr(recent.netRevenue),
      delta: delta(recent.netRevenueGrowthPct, against),
      period: recentPeriod,
    },
    {
      id: "revenue-day",
      label: "Revenue on the reference day",
      value: inr(day.revenue),
      sub: `${count(day.orders)} orders`,
      period: date(day.periodEnd),
    },
    {
      id: "revenue-all",
      label: "Revenue, all time",
      value: inr(all.revenue),
      sub: `${count(all.orders)} orders · ${count(all.customers)} customers`,
      period: rowPeriod(all, "periodStart", "periodEnd"),
    },
  ]);
}

export function monthlyTrend(ctx, data, { withTable = true } = {}) {
  const rows = data.rows;
  const labels = rows.map((r) => `${formatMonth(r.monthStart)}${r.isPartialMonth ? "*" : ""}`);
  const shortN = data.movingAverageShortMonths;
  const longN = data.movingAverageLongMonths;
  const parts = [
    ctx.chart(
      {
        ...chart("bar", labels, [
          { label: "Revenue", data: rows.map((r) => r.revenue), order: 3 },
          {
            type: "line",
            label: `${shortN}-month moving average`,
            data: rows.map((r) => r.movingAvgShort),
            order: 1,
          },
          {
            type: "line",
            label: `${longN}-month moving average`,
            data: rows.map((r) => r.movingAvgLong),
            order: 2,
            borderDash: [6, 4],
          },
        ], { y: "inr" }),
      },
      { label: "Monthly revenue with moving averages" },
    ),
  ];
  if (rows.some((r) => r.isPartialMonth)) {
    parts.push(ctx.note("* partial month: up to the reference date."));
  }
  if (withTable) {
    const recent = rows.slice(-12).reverse();
    parts.push(
      ctx.table({
        caption: "Last 12 months, newest first",
        rows: recent,
        rowKey: (r) => r.monthStart,
        columns: cols([
          ["monthStart", "Month", (v, r) => `${month(v)}${r.isPartialMonth ? "*" : ""}`, false],
          ["orders", "Orders", count],
          ["revenue", "Revenue", inr],
          ["aov", "AOV", inr],
          ["newCustomers", "New customers", count],
          ["momGrowthPct", "MoM", pct],
          ["yoyGrowthPct", "YoY", pct],
        ]),
      }),
    );
  }
  return parts;
}

function recentTrend(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => formatShortDate(r.date)),
        [
          { label: "Revenue", data: rows.map((r) => r.revenue), order: 2 },
          {
            type: "line",
            label: `${data.movingAverageDays}-day moving average`,
            data: rows.map((r) => r.movingAvgRevenue),
            order: 1,
            color: "#dc2626",
          },
        ],
        { y: "inr" },
      ),
      { label: "Daily revenue with moving average" },
    ),
    ctx.cards([
      {
        id: "days",
        label: "Days",
        value: count(rows.length),
      },
      { id: "orders", label: "Orders", value: count(sum(rows, "orders")) },
      { id: "revenue", label: "Revenue", value: inr(sum(rows, "revenue")) },
    ]),
  ];
}

function dailySummary(ctx, data) {
  const rows = data.rows;
  return ctx.chart(
    chart(
      "line",
      rows.map((r) => formatShortDate(r.date)),
      [
        { label: "Revenue", data: rows.map((r) => r.revenue), fill: true, backgroundColor: "rgba(37,99,235,0.15)" },
        { label: "Net revenue", data: rows.map((r) => r.netRevenue), color: "#16a34a" },
      ],
      { y: "inr" },
    ),
    { label: "Daily revenue over the last year" },
  );
}

function dayOfWeek(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => r.dayName),
        [
          {
            label: "Average revenue per day",
            data: rows.map((r) => r.avgRevenuePerDay),
            backgroundColor: rows.map((r) => (r.isWeekend ? "#f59e0b" : "#2563eb")),
          },
        ],
        { legend: false, y: "inr" },
      ),
      { label: "Average revenue by day of week" },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.isoDayOfWeek,
      columns: cols([
        ["dayName", "Day", text, false],
        ["orders", "Orders", count],
        ["avgOrdersPerDay", "Orders/day", (v) => v.toFixed(1)],
        ["avgRevenuePerDay", "Revenue/day", inr],
        ["revenueSharePct", "Share", pct],
      ]),
    }),
  ];
}

function weekendWeekday(ctx, data) {
  const rows = data.rows;
  const label = (r) => (r.isWeekend ? "Weekend" : "Weekday");
  return [
    ctx.chart(
      chart("doughnut", rows.map(label), [{ label: "Revenue share", data: rows.map((r) => r.revenueSharePct), format: "pct" }], {
        y: "pct",
      }),
      { label: "Revenue share weekend vs weekday", height: 200 },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.dayType,
      columns: cols([
        ["dayType", "Days", (v, r) => label(r), false],
        ["days", "Days counted", count],
        ["avgOrdersPerDay", "Orders/day", (v) => v.toFixed(1)],
        ["avgRevenuePerDay", "Revenue/day", inr],
        ["revenueSharePct", "Share", pct],
      ]),
    }),
  ];
}

function paymentModes(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart("doughnut", rows.map((r) => r.paymentMode), [{ label: "Amount paid", data: rows.map((r) => r.amountPaid) }], {
        y: "inr",
      }),
      { label: "Amount paid by payment mode", height: 220 },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.paymentMode,
      columns: cols([
        ["paymentMode", "Mode", text, false],
        ["payments", "Payments", count],
        ["amountPaid", "Amount", inr],
        ["amountSharePct", "Share", pct],
        ["avgPayment", "Average", inr],
      ]),
    }),
  ];
}

function quarterly(ctx, data) {
  const rows = data.rows;
  const label = (r) => `Q${r.quarter} ${r.year}${r.isPartial ? "*" : ""}`;
  return [
    ctx.chart(
      chart(
        "bar",
        rows.map(label),
        [
          { label: "Revenue", data: rows.map((r) => r.revenue) },
          { label: "Net revenue", data: rows.map((r) => r.netRevenue) },
        ],
        { y: "inr" },
      ),
      { label: "Quarterly revenue" },
    ),
    ctx.table({
      rows: [...rows].reverse(),
      rowKey: (r) => r.quarterStart,
      columns: cols([
        ["quarter", "Quarter", (v, r) => label(r), false],
        ["orders", "Orders", count],
        ["revenue", "Revenue", inr],
        ["qoqGrowthPct", "QoQ", pct],
        ["yoyGrowthPct", "YoY", pct],
      ]),
    }),
    rows.some((r) => r.isPartial) ? ctx.note("* partial quarter: up to the reference date.") : null,
  ];
}

function returns(ctx, data) {
  const rows = data.rows;
  const months = distinct(rows, "returnMonth");
  const reasons = distinct(rows, "reason").sort();
  const byReason = groupBy(rows, "reason");
  const cell = new Map(rows.map((r) => [`${r.returnMonth}|${r.reason}`, r]));
  const totals = reasons
    .map((reason) => {
      const list = byReason.get(reason);
      return {
        reason,
        returns: sum(list, "returns"),
        returnedOrders: sum(list, "returnedOrders"),
        refundAmount: sum(list, "refundAmount"),
      };
    })
    .sort((a, b) => b.refundAmount - a.refundAmount || a.reason.localeCompare(b.reason));
  return [
    ctx.chart(
      chart(
        "bar",
        months.map((m) => formatMonth(m)),
        reasons.map((reason) => ({
          label: reason,
          data: months.map((m) => cell.get(`${m}|${reason}`)?.returns ?? 0),
        })),
        { y: "count", stacked: true },
      ),
      { label: "Returns by month and reason" },
    ),
    ctx.table({
      caption: "Totals by reason over the period",
      rows: totals,
      rowKey: (r) => r.reason,
      columns: cols([
        ["reason", "Reason", text, false],
        ["returns", "Returns", count],
        ["returnedOrders", "Orders", count],
        ["refundAmount", "Refunds", inrFull],
      ]),
    }),
  ];
}

function hourly(ctx, data) {
  return ctx.chart(
    chart(
      "bar",
      data.rows.map((r) => `${r.hourOfDay}:00`),
      [{ label: "Revenue", data: data.rows.map((r) => r.revenue) }],
      { y: "inr" },
    ),
    { label: "Revenue by hour of day" },
  );
}

export const SALES_WIDGETS = [
  { id: "sales-kpis", title: "Sales at a glance", file: "sales/executive_summary.json", size: "full", render: salesCards },
  { id: "sales-monthly", title: "Monthly revenue trend", file: "sales/monthly.json", size: "wide", render: (c, d) => monthlyTrend(c, d) },
  { id: "sales-recent", title: "Daily sales with moving average", file: "sales/recent_trend.json", size: "wide", render: recentTrend },
  { id: "sales-daily", title: "Daily revenue, last year", file: "sales/daily_summary.json", size: "wide", render: dailySummary },
  { id: "sales-dow", title: "Sales by day of week", file: "sales/day_of_week.json", render: dayOfWeek },
  { id: "sales-weekend", title: "Weekend vs weekday", file: "sales/weekend_vs_weekday.json", render: weekendWeekday },
  { id: "sales-payments", title: "Payment modes", file: "sales/payment_modes.json", render: paymentModes },
  { id: "sales-quarterly", title: "Quarterly sales", file: "sales/quarterly.json", render: quarterly },
  { id: "sales-returns", title: "Returns by reason", file: "sales/returns.json", size: "wide", render: returns },
  { id: "sales-hourly", title: "Sales by hour of day", file: "sales/hourly_pattern.json", render: hourly },
];
