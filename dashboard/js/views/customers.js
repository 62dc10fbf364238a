// Customers tab: value tiers and status (lifetime value), RFM segments, churn risk, cohort
// retention, demographics, geography, new vs returning customers, top customers.

import {
  chart,
  cols,
  count,
  date,
  distinct,
  groupBy,
  inr,
  month,
  num,
  pct,
  sum,
  text,
} from "./common.js";

const STATUS_COLORS = {
  Active: "#16a34a",
  "At Risk": "#f59e0b",
  Churning: "#ea580c",
  Churned: "#dc2626",
  "Never Purchased": "#94a3b8",
};
const RISK_COLORS = { Critical: "#b91c1c", High: "#ea580c", Medium: "#f59e0b", Low: "#16a34a" };

function customerCards(ctx, data) {
  const s = data.summary || {};
  const t = data.thresholds || {};
  const parts = [
    ctx.cards([
      { id: "customers", label: "Customers", value: count(s.customers), sub: `${count(s.buyers)} have ordered` },
      { id: "revenue", label: "Revenue", value: inr(s.revenue), sub: `${count(s.orders)} orders` },
      { id: "aov", label: "Average order value", value: inr(s.aov) },
      { id: "revenue-per-buyer", label: "Revenue per buyer", value: inr(s.revenuePerBuyer) },
    ]),
  ];
  if (t.platinumMinRevenue != null) {
    parts.push(
      ctx.note(
        `Value tiers by lifetime revenue: Platinum ≥ ${inr(t.platinumMinRevenue)}, Gold ≥ ${inr(t.goldMinRevenue)}, ` +
          `Silver ≥ ${inr(t.silverMinRevenue)}. Status by days since the last order: Active ≤ ${t.activeMaxDays}, ` +
          `At Risk ≤ ${t.atRiskMaxDays}, Churning ≤ ${t.churningMaxDays}, Churned beyond.`,
      ),
    );
  }
  return parts;
}

function valueTiers(ctx, data) {
  const rows = data.rows;
  const tiers = distinct(rows, "valueTier");
  const statuses = distinct(rows, "customerStatus");
  const cell = new Map(rows.map((r) => [`${r.valueTier}|${r.customerStatus}`, r]));
  const byTier = groupBy(rows, "valueTier");
  const totals = tiers.map((tier) => {
    const list = byTier.get(tier);
    return {
      valueTier: tier,
      customers: sum(list, "customers"),
      orders: sum(list, "orders"),
      revenue: sum(list, "revenue"),
      customerSharePct: sum(list, "customerSharePct"),
      revenueSharePct: sum(list, "revenueSharePct"),
    };
  });
  return [
    ctx.chart(
      chart(
        "bar",
        tiers,
        statuses.map((status) => ({
          label: status,
          data: tiers.map((tier) => cell.get(`${tier}|${status}`)?.customers ?? 0),
          color: STATUS_COLORS[status],
        })),
        { y: "count", stacked: true },
      ),
      { label: "Customers by value tier and status" },
    ),
    ctx.table({
      caption: "By value tier",
      rows: totals,
      rowKey: (r) => r.valueTier,
      columns: cols([
        ["valueTier", "Tier", text, false],
        ["customers", "Customers", count],
        ["customerSharePct", "Share", pct],
        ["revenue", "Revenue", inr],
        ["revenueSharePct", "Revenue share", pct],
      ]),
    }),
  ];
}

function rfm(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => r.rfmSegment),
        [
          { label: "Customers", data: rows.map((r) => r.customers) },
          { label: "Revenue share %", data: rows.map((r) => r.revenueSharePct), yAxisID: "y2", type: "line", color: "#dc2626", pointRadius: 3 },
        ],
        { y: "count", y2: "pct" },
      ),
      { label: "Customers and revenue share by RFM segment" },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.rfmSegment,
      columns: cols([
        ["rfmSegment", "Segment", text, false],
        ["customers", "Customers", count],
        ["revenueSharePct", "Revenue share", pct],
        ["avgRecencyDays", "Recency (days)", (v) => num(v)],
        ["avgFrequency", "Orders", (v) => num(v)],
        ["avgMonetary", "Spend", inr],
        ["recommendedAction", "Recommended action", text, false, "wrap"],
      ]),
    }),
  ];
}

function churnRisk(ctx, data) {
  const rows = data.rows;
  const levels = distinct(rows, "riskLevel");
  const tiers = distinct(rows, "valueTier");
  const cell = new Map(rows.map((r) => [`${r.riskLevel}|${r.valueTier}`, r]));
  const riskiest = Array.isArray(data.riskiest) ? data.riskiest : [];
  const days = data.churnDays || {};
  const parts = [
    ctx.chart(
      chart(
        "bar",
        tiers,
        levels.map((level) => ({
          label: level,
          data: tiers.map((tier) => cell.get(`${level}|${tier}`)?.revenueAtRisk ?? 0),
          color: RISK_COLORS[level],
        })),
        { y: "inr", stacked: true },
      ),
      { label: "Revenue at risk by value tier and risk level" },
    ),
  ];
  if (Object.keys(days).length) {
    parts.push(
      ctx.note(
        `Churn window by tier: ${Object.entries(days)
          .map(([tier, d]) => `${tier} ${d} days`)
          .join(", ")} without an order.`,
      ),
    );
  }
  if (riskiest.length) {
    parts.push(
      ctx.table({
        caption: "Customers to contact first",
        rows: riskiest,
        limit: 10,
        rowKey: (r) => r.custId,
        columns: cols([
          ["priorityRank", "#", count],
          ["fullName", "Customer", text, false],
          ["valueTier", "Tier", text, false],
          ["riskLevel", "Risk", text, false],
          ["daysSinceLastOrder", "Days since order", count],
          ["revenue", "Revenue", inr],
          ["recommendedAction", "Action", text, false, "wrap"],
        ]),
      }),
    );
  }
  return parts;
}

function cohorts(ctx, data) {
  const rows = data.rows;
  const maxMonths = Number.isInteger(data.maxMonths) ? data.maxMonths : Math.max(...rows.map((r) => r.monthNumber));
  const byCohort = groupBy(rows, "cohortMonth");
  const cohortsList = [...byCohort.keys()].sort();
  const recent = cohortsList.slice(-12);
  const monthNumbers = Array.from({ length: maxMonths + 1 }, (_, i) => i);
  const table = recent.map((cohort) => {
    const list = byCohort.get(cohort);
    const out = { cohortMonth: cohort, cohortSize: list[0].cohortSize };
    for (const r of list) out[`m${r.monthNumber}`] = r.retentionPct;
    return out;
  });
  // Average retention by month number, weighted by cohort size (complete months only).
  const curve = monthNumbers.map((m) => {
    const points = rows.filter((r) => r.monthNumber === m && !r.isPartialMonth);
    const size = sum(points, "cohortSize");
    return size ? sum(points, "activeCustomers") / size * 100 : null;
  });
  return [
    ctx.chart(
      chart(
        "line",
        monthNumbers.map((m) => `M${m}`),
        [{ label: "Customers still ordering (weighted average)", data: curve, pointRadius: 3, fill: true, backgroundColor: "rgba(37,99,235,0.12)" }],
        { y: "pct" },
      ),
      { label: "Average retention by months since first order", height: 220 },
    ),
    ctx.table({
      caption: "Retention % by cohort (month of first order) and months since",
      rows: table,
      rowKey: (r) => r.cohortMonth,
      columns: [
        { key: "cohortMonth", label: "Cohort", format: month },
        { key: "cohortSize", label: "Size", format: count, num: true },
        ...monthNumbers.map((m) => ({
          key: `m${m}`,
          label: `M${m}`,
          num: true,
          format: (v) => (typeof v === "number" ? `${Math.round(v)}%` : ""),
          shade: (v) => v / 100,
        })),
      ],
    }),
  ];
}

function demographics(ctx, data) {
  const rows = [...data.rows].sort((a, b) => a.ageGroupOrder - b.ageGroupOrder);
  const groups = distinct(rows, "ageGroup");
  const genders = distinct(rows, "genderLabel");
  const cell = new Map(rows.map((r) => [`${r.ageGroup}|${r.genderLabel}`, r]));
  return [
    ctx.chart(
      chart(
        "bar",
        groups,
        genders.map((g) => ({ label: g, data: groups.map((a) => cell.get(`${a}|${g}`)?.revenue ?? 0) })),
        { y: "inr" },
      ),
      { label: "Revenue by age group and gender" },
    ),
    ctx.table({
      rows,
      rowKey: (r) => `${r.gender}-${r.ageGroup}`,
      columns: cols([
        ["ageGroup", "Age", text, false],
        ["genderLabel", "Gender", text, false],
        ["customers", "Customers", count],
        ["buyerPct", "Buyers", pct],
        ["revenue", "Revenue", inr],
        ["aov", "AOV", inr],
      ]),
    }),
  ];
}

function geography(ctx, data) {
  const states = Array.isArray(data.states) ? data.states : [];
  const top = states.slice(0, 10);
  return [
    top.length
      ? ctx.chart(
          chart("bar", top.map((s) => s.state), [{ label: "Revenue", data: top.map((s) => s.revenue) }], {
            y: "inr",
            horizontal: true,
            legend: false,
          }),
          { label: "Revenue by state", height: 40 + 24 * top.length },
        )
      : null,
    ctx.table({
      caption: "Cities by revenue",
      rows: data.rows,
      rowKey: (r) => `${r.state}-${r.city}`,
      columns: cols([
        ["cityRank", "#", count],
        ["city", "City", text, false],
        ["state", "State", text, false],
        ["customers", "Customers", count],
        ["orders", "Orders", count],
        ["revenue", "Revenue", inr],
        ["revenueSharePct", "Share", pct],
      ]),
    }),
  ];
}

function newVsReturning(ctx, data) {
  const rows = data.rows;
  const labels = rows.map((r) => `${month(r.monthStart)}${r.isPartialMonth ? "*" : ""}`);
  return [
    ctx.chart(
      chart(
        "bar",
        labels,
        [
          { label: "New customers", data: rows.map((r) => r.newCustomers), stack: "c" },
          { label: "Returning customers", data: rows.map((r) => r.returningCustomers), stack: "c", color: "#16a34a" },
          { label: "Returning share of revenue %", data: rows.map((r) => r.returningRevenueSharePct), type: "line", yAxisID: "y2", color: "#f59e0b" },
        ],
        { y: "count", y2: "pct", stacked: true },
      ),
      { label: "New and returning customers by month" },
    ),
    rows.some((r) => r.isPartialMonth) ? ctx.note("* partial month: up to the reference date.") : null,
  ];
}

function topCustomers(ctx, data) {
  return ctx.table({
    rows: data.rows,
    limit: 25,
    rowKey: (r) => r.custId,
    columns: cols([
      ["revenueRank", "#", count],
      ["fullName", "Customer", text, false],
      ["city", "City", text, false],
      ["valueTier", "Tier", text, false],
      ["rfmSegment", "Segment", text, false],
      ["orders", "Orders", count],
      ["revenue", "Revenue", inr],
      ["lastOrderDate", "Last order", date, false],
    ]),
  });
}

export const CUSTOMERS_WIDGETS = [
  { id: "customers-kpis", title: "Customers at a glance", file: "customers/lifetime_value.json", size: "full", render: customerCards },
  { id: "customers-tiers", title: "Value tiers and status", file: "customers/lifetime_value.json", render: valueTiers },
  { id: "customers-rfm", title: "RFM segments", file: "customers/rfm_segments.json", size: "wide", render: rfm },
  { id: "customers-churn", title: "Churn risk", file: "customers/churn_risk.json", size: "wide", render: churnRisk },
  { id: "customers-new-returning", title: "New vs returning customers", file: "customers/new_vs_returning.json", render: newVsReturning },
  { id: "customers-cohorts", title: "Cohort retention", file: "customers/cohort_retention.json", size: "full", render: cohorts },
  { id: "customers-demographics", title: "Demographics", file: "customers/demographics.json", render: demographics },
  { id: "customers-geography", title: "Geography", file: "customers/geography.json", render: geography },
  { id: "customers-top", title: "Top customers", file: "customers/top_customers.json", size: "wide", render: topCustomers },
];
