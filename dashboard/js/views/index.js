// The seven tabs and their widgets. A domain tab also shows every <domain>/*.json file in the
// manifest that no widget below reads, with the generic layout (views/generic.js).

import { CUSTOMERS_WIDGETS } from "./customers.js";
import { EXECUTIVE_WIDGETS } from "./executive.js";
import { MARKETING_WIDGETS } from "./marketing.js";
import { OPERATIONS_WIDGETS } from "./operations.js";
import { PRODUCTS_WIDGETS } from "./products.js";
import { SALES_WIDGETS } from "./sales.js";
import { STORES_WIDGETS } from "./stores.js";

export const TABS = [
  { id: "executive", label: "Executive", domain: null, widgets: EXECUTIVE_WIDGETS },
  { id: "sales", label: "Sales", domain: "sales", widgets: SALES_WIDGETS },
  { id: "customers", label: "Customers", domain: "customers", widgets: CUSTOMERS_WIDGETS },
  { id: "products", label: "Products", domain: "products", widgets: PRODUCTS_WIDGETS },
  { id: "stores", label: "Stores", domain: "stores", widgets: STORES_WIDGETS },
  { id: "operations", label: "Operations", domain: "operations", widgets: OPERATIONS_WIDGETS },
  { id: "marketing", label: "Marketing", domain: "marketing", widgets: MARKETING_WIDGETS },
];
