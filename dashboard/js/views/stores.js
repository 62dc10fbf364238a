// Stores tab: store scorecard and rankings, regional performance, store inventory health, staff.

import { chart, cols, count, inr, pct, text } from "./common.js";

const HEALTH_COLORS = { Critical: "#b91c1c", "Needs Attention": "#f59e0b", Healthy: "#16a34a", "No Inventory": "#94a3b8" };

function rankings(ctx, data) {
  const rows = data.rows;
  const parts = [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => r.storeName.replace(/^RetailMart /, "")),
        [
          { label: "Revenue", data: rows.map((r) => r.revenue) },
          { label: "Net profit", data: rows.map((r) => r.netProfit), color: "#16a34a" },
        ],
        { y: "inr", horizontal: true },
      ),
      { label: "Revenue and net profit of the top and bottom stores", height: 80 + 34 * rows.length },
    ),
    ctx.table({
      caption: data.storesRanked ? `Top and bottom of ${count(data.storesRanked)} stores by net profit` : null,
      rows,
      rowKey: (r) => r.storeId,
      columns: cols([
        ["profitRank", "#", count],
        ["storeName", "Store", text, false],
        ["region", "Region", text, false],
        ["revenue", "Revenue", inr],
        ["netProfit", "Net profit", inr],
        ["netMarginPct", "Margin", pct],
        ["revenuePerEmployee", "Revenue/employee", inr],
        ["performanceTier", "Tier", text, false],
      ]),
    }),
  ];
  if (data.costOfGoodsBasis) parts.push(ctx.note(`Cost of goods: ${data.costOfGoodsBasis}.`));
  return parts;
}

function regional(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => r.region),
        [
          { label: "Revenue", data: rows.map((r) => r.revenue) },
          { label: "Gross margin %", data: rows.map((r) => r.grossMarginPct), type: "line", yAxisID: "y2", color: "#f59e0b", pointRadius: 3 },
        ],
        { y: "inr", y2: "pct" },
      ),
      { label: "Revenue and gross margin by region" },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.region,
      columns: cols([
        ["rank", "#", count],
        ["region", "Region", text, false],
        ["stores", "Stores", count],
        ["customers", "Customers", count],
        ["revenue", "Revenue", inr],
        ["revenueSharePct", "Share", pct],
        ["netMarginPct", "Net margin", pct],
      ]),
    }),
  ];
}

function inventoryHealth(ctx, data) {
  const rows = data.rows;
  const attention = Array.isArray(data.storesNeedingAttention) ? data.storesNeedingAttention : [];
  return [
    ctx.chart(
      chart(
        "doughnut",
        rows.map((r) => r.inventoryHealth),
        [{ label: "Stores", data: rows.map((r) => r.stores), backgroundColor: rows.map((r) => HEALTH_COLORS[r.inventoryHealth] || "#64748b") }],
        { y: "count" },
      ),
      { label: "Stores by inventory health", height: 220 },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.inventoryHealth,
      columns: cols([
        ["inventoryHealth", "Health", text, false],
        ["stores", "Stores", count],
        ["outOfStockCount", "Out of stock", count],
        ["lowStockCount", "Low stock", count],
        ["stockValue", "Stock value", inr],
      ]),
    }),
    attention.length
      ? ctx.table({
          caption: "Stores needing attention",
          rows: attention,
          rowKey: (r) => r.storeId,
          columns: cols([
            ["storeName", "Store", (v) => String(v).replace(/^RetailMart /, ""), false],
            ["inventoryHealth", "Health", text, false],
            ["outOfStockCount", "Out", count],
            ["atRiskPct", "At risk", pct],
          ]),
        })
      : null,
  ];
}

function employees(ctx, data) {
  const rows = data.rows;
  return [
    ctx.cards([
      { id: "headcount", label: "Headcount", value: count(data.totalHeadcount) },
      { id: "payroll", label: "Monthly payroll", value: inr(data.totalMonthlyPayroll) },
    ]),
    ctx.chart(
      chart("bar", rows.map((r) => r.role), [{ label: "Headcount", data: rows.map((r) => r.headcount) }], {
        y: "count",
        horizontal: true,
        legend: false,
      }),
      { label: "Headcount by role", height: 60 + 24 * rows.length },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.role,
      columns: cols([
        ["role", "Role", text, false],
        ["headcount", "Headcount", count],
        ["monthlyPayroll", "Payroll", inr],
        ["avgMonthlySalary", "Average salary", inr],
      ]),
    }),
  ];
}

export const STORES_WIDGETS = [
  { id: "stores-rankings", title: "Store scorecard: top and bottom stores", file: "stores/rankings.json", size: "full", render: rankings },
  { id: "stores-regional", title: "Regional performance", file: "stores/regional.json", size: "wide", render: regional },
  { id: "stores-inventory", title: "Store inventory health", file: "stores/inventory_health.json", render: inventoryHealth },
  { id: "stores-employees", title: "Staff", file: "stores/employees.json", size: "wide", render: employees },
];
