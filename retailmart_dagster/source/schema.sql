-- RetailMart operational schema ("v4"), exactly as in shared/SOURCE_CONTRACT.md.
-- Written by `retailmart generate` (sample data) and expected unchanged on a user's own database.
-- The platform reads these tables only; it never adds columns or constraints to them.

CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS customers;
CREATE SCHEMA IF NOT EXISTS stores;
CREATE SCHEMA IF NOT EXISTS products;
CREATE SCHEMA IF NOT EXISTS sales;
CREATE SCHEMA IF NOT EXISTS finance;
CREATE SCHEMA IF NOT EXISTS hr;
CREATE SCHEMA IF NOT EXISTS marketing;

CREATE TABLE core.dim_date (
    date_key   date PRIMARY KEY,
    day        int,
    month      int,
    year       int,
    quarter    int,
    day_name   varchar(10),
    month_name varchar(10)
);

CREATE TABLE core.dim_region (
    region_id   int PRIMARY KEY,
    region_name varchar(20),
    country     varchar(50),
    state       varchar(50)
);

CREATE TABLE core.dim_category (
    category_id   int PRIMARY KEY,
    category_name varchar(50)
);

CREATE TABLE core.dim_brand (
    brand_id      int PRIMARY KEY,
    brand_name    varchar(100),
    category_name varchar(50)
);

CREATE TABLE customers.customers (
    cust_id     int PRIMARY KEY,
    full_name   varchar(100),
    gender      char(1),
    age         int,
    city        varchar(50),
    state       varchar(50),
    join_date   date,
    region_name varchar(20)
);

CREATE TABLE customers.addresses (
    address_id   int PRIMARY KEY,
    cust_id      int REFERENCES customers.customers (cust_id),
    address_type varchar(20),
    street       varchar(100),
    city         varchar(50),
    state        varchar(50),
    postal_code  varchar(10)
);

CREATE TABLE customers.reviews (
    review_id   int PRIMARY KEY,
    cust_id     int REFERENCES customers.customers (cust_id),
    prod_id     int,  -- no FK in the contract
    rating      int CHECK (rating BETWEEN 1 AND 5),
    review_date date,
    review_text text
);

CREATE TABLE customers.loyalty_points (
    cust_id      int PRIMARY KEY REFERENCES customers.customers (cust_id),
    total_points int,
    last_updated date
);

CREATE TABLE stores.departments (
    dept_id   int PRIMARY KEY,
    dept_name varchar(50)
);

CREATE TABLE stores.stores (
    store_id   int PRIMARY KEY,
    store_name varchar(120),
    city       varchar(50),
    state      varchar(50),
    region     varchar(20)
);

CREATE TABLE stores.employees (
    emp_id   int PRIMARY KEY,
    emp_name varchar(100),
    role     varchar(50),
    salary   numeric(12, 2),
    dept_id  int REFERENCES stores.departments (dept_id),
    store_id int REFERENCES stores.stores (store_id)
);

CREATE TABLE stores.expenses (
    expense_id   int PRIMARY KEY,
    store_id     int REFERENCES stores.stores (store_id),
    expense_date date,
    expense_type varchar(50),
    amount       numeric(12, 2)
);

CREATE TABLE products.suppliers (
    supplier_id   int PRIMARY KEY,
    supplier_name varchar(100)
);

CREATE TABLE products.products (
    prod_id     int PRIMARY KEY,
    prod_name   varchar(150),
    category    varchar(50),
    brand       varchar(50),
    supplier_id int REFERENCES products.suppliers (supplier_id),
    price       numeric(12, 2)
);

CREATE TABLE products.inventory (
    store_id     int,  -- no FK in the contract
    prod_id      int REFERENCES products.products (prod_id),
    stock_qty    int,
    last_updated date,
    PRIMARY KEY (store_id, prod_id)
);

CREATE TABLE products.promotions (
    promo_id         int PRIMARY KEY,
    promo_name       varchar(50),
    start_date       date,
    end_date         date,
    discount_percent numeric(6, 2)
);

CREATE TABLE sales.orders (
    order_id     int PRIMARY KEY,
    cust_id      int REFERENCES customers.customers (cust_id),
    store_id     int REFERENCES stores.stores (store_id),
    order_date   date,
    order_status varchar(20),
    total_amount numeric(12, 2)
);

CREATE TABLE sales.order_items (
    order_item_id int PRIMARY KEY,
    order_id      int REFERENCES sales.orders (order_id),
    prod_id       int REFERENCES products.products (prod_id),
    quantity      int,
    unit_price    numeric(12, 2),
    discount      numeric(6, 2)
);

CREATE TABLE sales.payments (
    payment_id   int PRIMARY KEY,
    order_id     int REFERENCES sales.orders (order_id),
    payment_date date,
    payment_mode varchar(30),
    amount       numeric(12, 2)
);

CREATE TABLE sales.shipments (
    shipment_id    int PRIMARY KEY,
    order_id       int REFERENCES sales.orders (order_id),
    courier_name   varchar(50),
    shipped_date   date,
    delivered_date date,
    status         varchar(30)
);

CREATE TABLE sales.returns (
    return_id     int PRIMARY KEY,
    order_id      int REFERENCES sales.orders (order_id),
    prod_id       int REFERENCES products.products (prod_id),
    return_date   date,
    reason        text,
    refund_amount numeric(12, 2)
);

CREATE TABLE finance.expenses (
    expense_id   int PRIMARY KEY,
    store_id     int REFERENCES stores.stores (store_id),
    expense_date date,
    category     varchar(50),
    amount       numeric(12, 2)
);

CREATE TABLE finance.revenue_summary (
    summary_date   date,
    store_id       int REFERENCES stores.stores (store_id),
    total_sales    numeric(14, 2),
    total_expenses numeric(14, 2),
    net_profit     numeric(14, 2)
);

CREATE TABLE hr.attendance (
    emp_id int REFERENCES stores.employees (emp_id),
    date   date,
    status varchar(10),
    PRIMARY KEY (emp_id, date)
);

CREATE TABLE hr.salary_history (
    emp_id         int REFERENCES stores.employees (emp_id),
    effective_date date,
    salary         numeric(12, 2)
);

CREATE TABLE marketing.campaigns (
    campaign_id   int PRIMARY KEY,
    campaign_name varchar(100),
    start_date    date,
    end_date      date,
    budget        numeric(14, 2)
);

CREATE TABLE marketing.ads_spend (
    spend_id    int PRIMARY KEY,
    campaign_id int REFERENCES marketing.campaigns (campaign_id),
    channel     varchar(50),
    amount      numeric(12, 2),
    clicks      int,
    conversions int
);

CREATE TABLE marketing.email_clicks (
    email_id    int PRIMARY KEY,
    cust_id     int REFERENCES customers.customers (cust_id),
    campaign_id int REFERENCES marketing.campaigns (campaign_id),
    sent_date   date,
    opened      boolean,
    clicked     boolean
);
