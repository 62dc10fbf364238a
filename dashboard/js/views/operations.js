// Operations tab: delivery SLA by month, couriers, returns by category and reason, payments by mode
// and month, pending shipments, and the operations summary.

import { chart, cols, count, date, days, distinct, groupBy, inr, month, num, pct, sum, text } from "./common.js";

function summary(ctx, data) {
  const s = data.rows[0];
  return ctx.cards([
    { id: "on-time", label: `Shipped within ${s.slaDays} days`, value: pct(s.onTimePct), sub: `${count(s.onTime)} of ${count(s.assessed)} shipments` },
    { id: "order-to-deliver", label: "Order to delivery", value: `${num(s.avgOrderToDeliverDays)} days`, sub: `ship ${num(s.avgOrderToShipDays)} + deliver ${num(s.avgShipToDeliverDays)} days` },
    { id: "open-orders", label: "Open orders", value: count(s.openOrders), sub: `${count(s.openOrdersCritical)} critical · ${inr(s.openOrderValue)}` },
    { id: "return-rate", label: "Return rate", value: pct(s.returnRatePct), sub: `${count(s.returnedOrders)} of ${count(s.deliveredOrders)} delivered orders` },
    { id: "refunds", label: "Refunds", value: inr(s.refundAmount) },
    { id: "best-courier", label: "Best courier", value: text(s.bestCourier), sub: `score ${num(s.bestCourierScore)}` },
  ]);
}

function delivery(ctx, data) {
  const rows = data.rows;
  return [
    ctx.chart(
      chart(
        "line",
        rows.map((r) => month(r.orderMonth)),
        [
          { label: `Shipped within SLA (${data.slaDays} days) %`, data: rows.map((r) => r.onTimePct), pointRadius: 2 },
          { label: "Average days order to delivery", data: rows.map((r) => r.avgOrderToDeliverDays), yAxisID: "y2", type: "bar", color: "#cbd5e1", order: 2 },
        ],
        { y: "pct", y2: "number" },
      ),
      { label: "Delivery SLA by month" },
    ),
    ctx.table({
      caption: "Last 6 months",
      rows: rows.slice(-6).reverse(),
      rowKey: (r) => r.orderMonth,
      columns: cols([
        ["orderMonth", "Month", month, false],
        ["shipments", "Shipments", count],
        ["onTimePct", "On time", pct],
        ["avgOrderToShipDays", "Order→ship", days],
        ["avgShipToDeliverDays", "Ship→deliver", days],
        ["inTransit", "In transit", count],
      ]),
    }),
  ];
}

function couriers(ctx, data) {
  const rows = data.rows;
  const parts = [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => r.courierName),
        [
          { label: "Composite score", data: rows.map((r) => r.compositeScore) },
          { label: "On time %", data: rows.map((r) => r.onTimePct), color: "#16a34a" },
        ],
        { y: "number" },
      ),
      { label: "Courier scores" },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.courierName,
      columns: cols([
        ["rank", "#", count],
        ["courierName", "Courier", text, false],
        ["shipments", "Shipments", count],
        ["onTimePct", "On time", pct],
        ["avgShipToDeliverDays", "Ship→deliver", days],
        ["compositeScore", "Score", (v) => num(v)],
      ]),
    }),
  ];
  if (data.weights) {
    parts.push(
      ctx.note(
        `Score = ${Math.round(data.weights.onTime * 100)}% on-time rate + ${Math.round(data.weights.speed * 100)}% speed index (fastest courier = 100).`,
      ),
    );
  }
  return parts;
}

function returns(ctx, data) {
  const rows = data.rows;
  const categories = distinct(rows, "category");
  const reasons = distinct(rows, "reason").sort();
  const cell = new Map(rows.map((r) => [`${r.category}|${r.reason}`, r]));
  const byCategory = groupBy(rows, "category");
  const perCategory = categories.map((c) => {
    const first = byCategory.get(c)[0];
    return {
      category: c,
      deliveredOrders: first.deliveredOrders,
      categoryReturnedOrders: first.categoryReturnedOrders,
      categoryReturnRatePct: first.categoryReturnRatePct,
      categoryRefundAmount: first.categoryRefundAmount,
      isHighReturnCategory: first.isHighReturnCategory,
    };
  });
  return [
    ctx.chart(
      chart(
        "bar",
        categories,
        reasons.map((reason) => ({ label: reason, data: categories.map((c) => cell.get(`${c}|${reason}`)?.returnedOrders ?? 0) })),
        { y: "count", stacked: true, horizontal: true },
      ),
      { label: "Returned orders by category and reason", height: 80 + 24 * categories.length },
    ),
    ctx.table({
      caption: data.highReturnRatePct != null ? `Categories above ${pct(data.highReturnRatePct)} are flagged` : null,
      rows: perCategory,
      rowKey: (r) => r.category,
      columns: cols([
        ["category", "Category", text, false],
        ["deliveredOrders", "Delivered", count],
        ["categoryReturnedOrders", "Returned", count],
        ["categoryReturnRatePct", "Return rate", pct],
        ["categoryRefundAmount", "Refunds", inr],
        ["isHighReturnCategory", "High", (v) => (v ? "Yes" : ""), false],
      ]),
    }),
  ];
}

function payments(ctx, data) {
  const rows = data.rows;
  const months = distinct(rows, "paymentMonth");
  const modes = distinct(rows, "paymentMode").sort();
  const cell = new Map(rows.map((r) => [`${r.paymentMonth}|${r.paymentMode}`, r]));
  const byMode = groupBy(rows, "paymentMode");
  const parts = [
    ctx.chart(
      chart(
        "bar",
        months.map((m) => month(m)),
        modes.map((mode) => ({ label: mode, data: months.map((m) => cell.get(`${m}|${mode}`)?.amount ?? 0) })),
        { y: "inr", stacked: true },
      ),
      { label: "Amount paid by month and payment mode" },
    ),
    ctx.table({
      caption: "Totals over the period",
      rows: modes
        .map((mode) => ({ paymentMode: mode, payments: sum(byMode.get(mode), "payments"), amount: sum(byMode.get(mode), "amount") }))
        .sort((a, b) => b.amount - a.amount),
      rowKey: (r) => r.paymentMode,
      columns: cols([
        ["paymentMode", "Mode", text, false],
        ["payments", "Payments", count],
        ["amount", "Amount", inr],
      ]),
    }),
  ];
  if (data.successRateAvailable === false && data.successRateNote) parts.push(ctx.note(data.successRateNote));
  return parts;
}

function pending(ctx, data) {
  const s = data.summary || {};
  const t = data.thresholds || {};
  const levels = ["critical", "high", "medium", "low"].filter((k) => typeof s[k] === "number");
  return [
    ctx.cards([
      { id: "open", label: "Open orders", value: count(s.openOrders), sub: inr(s.openOrderValue) },
      ...levels.map((k) => ({ id: k, label: k[0].toUpperCase() + k.slice(1), value: count(s[k]) })),
      { id: "awaiting", label: "Awaiting dispatch", value: count(s.awaitingDispatch), sub: `${count(s.inTransit)} in transit` },
    ]),
    t.criticalDays != null
      ? ctx.note(`Priority by age from the reference date: Medium after ${t.mediumDays} days, High after ${t.highDays}, Critical after ${t.criticalDays}.`)
      : null,
    ctx.table({
      caption: "Oldest open orders",
      rows: data.rows,
      rowKey: (r) => r.orderId,
      columns: [
        { key: "orderId", label: "Order", format: (v) => `#${v}` },
        { key: "orderDate", label: "Ordered", format: date },
        { key: "ageDays", label: "Age (days)", format: count, num: true },
        { key: "stage", label: "Stage", format: text },
        { key: "courierName", label: "Courier", format: text },
        { key: "totalAmount", label: "Amount", format: inr, num: true },
        { key: "priority", label: "Priority", format: text },
      ],
    }),
  ];
}

export const OPERATIONS_WIDGETS = [
  { id: "operations-summary", title: "Operations at a glance", file: "operations/summary.json", size: "full", render: summary },
  { id: "operations-delivery", title: "Delivery SLA", file: "operations/delivery_performance.json", size: "wide", render: delivery },
  { id: "operations-couriers", title: "Couriers", file: "operations/couriers.json", render: couriers },
  { id: "operations-returns", title: "Returns by category and reason", file: "operations/returns.json", size: "wide", render: returns },
  { id: "operations-payments", title: "Payments by mode", file: "operations/payments.json", render: payments },
  { id: "operations-pending", title: "Pending shipments", file: "operations/pending_shipments.json", size: "full", allowEmpty: true, render: pending },
];
