// Products tab: top products, category mix, brands, ABC (Pareto) classes, inventory status and the
// products whose stock needs action (inventory turnover).

import { chart, cols, count, inr, num, pct, text } from "./common.js";

const STOCK_COLORS = {
  "Out of Stock": "#b91c1c",
  Low: "#f59e0b",
  Normal: "#16a34a",
  Overstocked: "#7c3aed",
  "Dead Stock": "#475569",
};

function topProducts(ctx, data) {
  const rows = data.rows;
  const top = rows.slice(0, 10);
  return [
    ctx.chart(
      chart("bar", top.map((r) => r.prodName), [{ label: "Net revenue", data: top.map((r) => r.netRevenue) }], {
        y: "inr",
        horizontal: true,
        legend: false,
      }),
      { label: "Top 10 products by net revenue", height: 60 + 26 * top.length },
    ),
    ctx.table({
      caption: data.totalProducts ? `Top ${rows.length} of ${count(data.totalProducts)} products` : null,
      rows,
      rowKey: (r) => r.prodId,
      columns: cols([
        ["rank", "#", count],
        ["prodName", "Product", text, false, "wrap"],
        ["category", "Category", text, false],
        ["units", "Units", count],
        ["netRevenue", "Net revenue", inr],
        ["revenueSharePct", "Share", pct],
        ["avgRating", "Rating", (v) => num(v)],
        ["currentStock", "Stock", count],
      ]),
    }),
  ];
}

function categories(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart("doughnut", rows.map((r) => r.category), [{ label: "Net revenue", data: rows.map((r) => r.netRevenue) }], {
        y: "inr",
        legend: rows.length <= 12,
      }),
      { label: "Net revenue by category", height: 280 },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.category,
      columns: cols([
        ["rank", "#", count],
        ["category", "Category", text, false],
        ["units", "Units", count],
        ["netRevenue", "Net revenue", inr],
        ["revenueSharePct", "Share", pct],
        ["avgDiscountPct", "Discount", pct],
        ["avgRating", "Rating", (v) => num(v)],
      ]),
    }),
  ];
}

function brands(ctx, data) {
  const rows = data.rows;
  const top = rows.slice(0, 12);
  return [
    ctx.chart(
      chart("bar", top.map((r) => r.brand), [{ label: "Net revenue", data: top.map((r) => r.netRevenue) }], {
        y: "inr",
        legend: false,
      }),
      { label: "Net revenue by brand" },
    ),
    ctx.table({
      caption: data.totalBrands ? `Top ${rows.length} of ${count(data.totalBrands)} brands` : null,
      rows,
      rowKey: (r) => r.brand,
      columns: cols([
        ["rank", "#", count],
        ["brand", "Brand", text, false],
        ["categoryList", "Categories", text, false, "wrap"],
        ["units", "Units", count],
        ["netRevenue", "Net revenue", inr],
        ["revenueSharePct", "Share", pct],
      ]),
    }),
  ];
}

function abc(ctx, data) {
  const rows = data.rows;
  const classA = rows.find((r) => r.abcClass === "A");
  const parts = [
    ctx.cards(
      rows.map((r) => ({
        id: `class-${r.abcClass}`,
        label: `Class ${r.abcClass}`,
        value: `${count(r.products)} products`,
        sub: `${pct(r.revenueSharePct)} of net revenue · ${inr(r.netRevenue)}`,
      })),
    ),
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => `Class ${r.abcClass}`),
        [
          { label: "Share of products %", data: rows.map((r) => r.productSharePct), color: "#94a3b8" },
          { label: "Share of net revenue %", data: rows.map((r) => r.revenueSharePct), color: "#2563eb" },
        ],
        { y: "pct" },
      ),
      { label: "ABC classes: products vs revenue", height: 220 },
    ),
  ];
  if (data.aCutoffPct != null) {
    parts.push(
      ctx.note(
        `A = products making the first ${data.aCutoffPct}% of net revenue, B = up to ${data.bCutoffPct}%, C = the rest.`,
      ),
    );
  }
  if (classA && Array.isArray(classA.topProducts) && classA.topProducts.length) {
    parts.push(
      ctx.table({
        caption: "Leading class A products",
        rows: classA.topProducts,
        rowKey: (r) => r.prodId,
        columns: cols([
          ["abcRank", "#", count],
          ["prodName", "Product", text, false, "wrap"],
          ["netRevenue", "Net revenue", inr],
          ["cumulativeSharePct", "Cumulative", pct],
        ]),
      }),
    );
  }
  return parts;
}

function inventoryStatus(ctx, data) {
  const rows = data.rows;
  const parts = [
    ctx.chart(
      chart(
        "doughnut",
        rows.map((r) => r.stockStatus),
        [
          {
            label: "Products",
            data: rows.map((r) => r.products),
            backgroundColor: rows.map((r) => STOCK_COLORS[r.stockStatus] || "#64748b"),
          },
        ],
        { y: "count" },
      ),
      { label: "Products by stock status", height: 220 },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.stockStatus,
      columns: cols([
        ["stockStatus", "Status", text, false],
        ["products", "Products", count],
        ["stockUnits", "Units in stock", count],
        ["stockValue", "Stock value", inr],
        ["unitsSoldWindow", `Sold (${data.windowDays ?? "N"} days)`, count],
      ]),
    }),
  ];
  if (data.lowCoverDays != null) {
    parts.push(
      ctx.note(
        `Days of cover: Low below ${num(data.lowCoverDays)}, Overstocked above ${num(data.overstockCoverDays)} ` +
          `(typical ${num(data.typicalCoverDays)}); sales over the last ${data.windowDays} days.`,
      ),
    );
  }
  return parts;
}

function turnover(ctx, data) {
  return ctx.table({
    caption: data.criticalStatuses ? `Products ${data.criticalStatuses.join(" or ")}: ${count(data.criticalProducts)}` : null,
    rows: data.rows,
    rowKey: (r) => r.prodId,
    columns: cols([
      ["priority", "#", count],
      ["prodName", "Product", text, false, "wrap"],
      ["stockStatus", "Status", text, false],
      ["currentStock", "Stock", count],
      ["dailyVelocity", "Sold/day", (v) => num(v)],
      ["daysOfInventory", "Days of cover", (v) => num(v)],
      ["storesStocking", "Stores", count],
    ]),
  });
}

export const PRODUCTS_WIDGETS = [
  { id: "products-top", title: "Top products", file: "products/top_products.json", size: "wide", render: topProducts },
  { id: "products-categories", title: "Category mix", file: "products/categories.json", render: categories },
  { id: "products-abc", title: "ABC analysis", file: "products/abc.json", render: abc },
  { id: "products-brands", title: "Brands", file: "products/brands.json", size: "wide", render: brands },
  { id: "products-inventory", title: "Inventory status", file: "products/inventory_status.json", render: inventoryStatus },
  {
    id: "products-turnover",
    title: "Stock to act on",
    file: "products/inventory_turnover.json",
    size: "wide",
    emptyText: "No product is out of stock or low on stock.",
    render: turnover,
  },
];
