-- analytics.fn_export_products_categories(): category performance as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "totalCategories", "rows": [...]}, rows = the
-- categories of analytics.vw_category_performance with revenue_rank <= config products.top_n_export,
-- best first; period = first order date .. reference date.
-- KPI rows: one object per category with rank, category, products, productsSold, orders, units, grossValue, discountAmount, netRevenue, revenueSharePct, avgSellingPrice, avgDiscountPct, avgRating, reviewCount, currentStock, stockValue (definitions in vw_category_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_products_categories()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('products.top_n_export') AS top_n
    ),

    all_rows AS MATERIALIZED (
        SELECT c.*
        FROM analytics.vw_category_performance AS c
    ),

    selected AS (
        SELECT a.*
        FROM all_rows AS a
        CROSS JOIN params AS p
        WHERE a.revenue_rank <= p.top_n
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(a.period_start) FROM all_rows AS a), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'totalCategories', (SELECT count(*) FROM all_rows AS a),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.revenue_rank,
                        'category', s.category,
                        'products', s.products,
                        'productsSold', s.products_sold,
                        'orders', s.orders,
                        'units', s.units,
                        'grossValue', round(s.gross_value, 2),
                        'discountAmount', round(s.discount_amount, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2),
                        'avgSellingPrice', round(s.avg_selling_price, 2),
                        'avgDiscountPct', round(s.avg_discount_pct, 2),
                        'avgRating', round(s.avg_rating, 2),
                        'reviewCount', s.review_count,
                        'currentStock', s.current_stock,
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
