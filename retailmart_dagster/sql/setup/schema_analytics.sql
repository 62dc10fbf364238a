-- The analytics schema: every object the platform creates lives here.
-- Source schemas (core, customers, stores, products, sales, finance, hr, marketing) are only read.
CREATE SCHEMA IF NOT EXISTS analytics;
