-- analytics.fn_export_products_top_products(): the best-selling products as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "totalProducts", "rows": [...]}, rows = the
-- products of analytics.mv_top_products with revenue_rank <= config products.top_n_export, best first;
-- period = first order date .. reference date. Money rounded to 2 decimals.
-- KPI rows: one object per product with rank, prodId, prodName, category, brand, listPrice, orders, units, grossValue, discountAmount, netRevenue, avgSellingPrice, avgDiscountPct, revenueSharePct, categoryRevenueSharePct, categoryRank, unitsRank, avgRating, reviewCount, currentStock, storesStocking, stockValue (definitions in mv_top_products)
CREATE OR REPLACE FUNCTION analytics.fn_export_products_top_products()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('products.top_n_export') AS top_n
    ),

    selected AS (
        SELECT t.*
        FROM analytics.mv_top_products AS t
        CROSS JOIN params AS p
        WHERE t.revenue_rank <= p.top_n
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(t.period_start) FROM analytics.mv_top_products AS t), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'totalProducts', (SELECT count(*) FROM analytics.mv_top_products AS t),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.revenue_rank,
                        'prodId', s.prod_id,
                        'prodName', s.prod_name,
                        'category', s.category,
                        'brand', s.brand,
                        'listPrice', round(s.list_price, 2),
                        'orders', s.orders,
                        'units', s.units,
                        'grossValue', round(s.gross_value, 2),
                        'discountAmount', round(s.discount_amount, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'avgSellingPrice', round(s.avg_selling_price, 2),
                        'avgDiscountPct', round(s.avg_discount_pct, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2),
                        'categoryRevenueSharePct', round(s.category_revenue_share_pct, 2),
                        'categoryRank', s.category_rank,
                        'unitsRank', s.units_rank,
                        'avgRating', round(s.avg_rating, 2),
                        'reviewCount', s.review_count,
                        'currentStock', s.current_stock,
                        'storesStocking', s.stores_stocking,
                        'stockValue', round(s.stock_value, 2)
                    )
                    ORDER BY s.revenue_rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
