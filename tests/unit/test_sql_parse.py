"""The SQL-file parser: lineage comes from the SQL itself (pglast), never from a hand-kept list."""

from pathlib import Path

import pytest

from retailmart_dagster.assets.sql_parse import (
    FUNCTION,
    MATERIALIZED_VIEW,
    SETUP_SCRIPT,
    TABLE,
    VIEW,
    SqlFileError,
    parse_sql_file,
    source_table_columns,
    source_tables,
)


def write(tmp_path: Path, group: str, name: str, text: str) -> Path:
    folder = tmp_path / group
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.sql"
    path.write_text(text)
    return path


def test_view_references_tables_not_ctes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sales",
        "vw_x",
        """-- What it answers.
-- KPI revenue: sum(total_amount)
--   of sales orders
CREATE VIEW analytics.vw_x AS
WITH daily AS (SELECT o.order_date, sum(o.total_amount) AS revenue FROM sales.orders o GROUP BY 1)
SELECT d.*, analytics.fn_reference_date() AS ref FROM daily d
JOIN core.dim_date dd ON dd.date_key = d.order_date;
""",
    )
    obj = parse_sql_file(path, tmp_path)
    assert obj.kind == VIEW
    assert obj.group == "sales"
    assert obj.relations == {("sales", "orders"), ("core", "dim_date"), ("analytics", "vw_x")}
    assert obj.references == {
        ("sales", "orders"),
        ("core", "dim_date"),
        ("analytics", "fn_reference_date"),
    }
    assert obj.description == "What it answers."
    assert obj.kpis == (("revenue", "sum(total_amount) of sales orders"),)
    assert len(obj.code_version) == 16


def test_materialized_view_with_unique_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sales",
        "mv_y",
        "CREATE MATERIALIZED VIEW analytics.mv_y AS SELECT 1 AS k FROM sales.orders;\n"
        "CREATE UNIQUE INDEX ux_mv_y ON analytics.mv_y (k);\n",
    )
    obj = parse_sql_file(path, tmp_path)
    assert obj.kind == MATERIALIZED_VIEW
    assert obj.references == {("sales", "orders")}


def test_sql_function_body_is_parsed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "exports",
        "fn_export_sales_z",
        """CREATE OR REPLACE FUNCTION analytics.fn_export_sales_z() RETURNS json
LANGUAGE sql STABLE AS $$
  WITH t AS (SELECT * FROM analytics.mv_y)
  SELECT json_agg(t) FROM t WHERE t.k < analytics.fn_config_int('sales.top_n_export')
$$;""",
    )
    obj = parse_sql_file(path, tmp_path)
    assert obj.kind == FUNCTION
    assert obj.references == {("analytics", "mv_y"), ("analytics", "fn_config_int")}


def test_plpgsql_function_body_is_parsed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "setup",
        "fn_p",
        """CREATE OR REPLACE FUNCTION analytics.fn_p(k text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE v int;
BEGIN
  SELECT count(*) INTO v FROM analytics.config c WHERE c.key = k;
  IF v > (SELECT count(*) FROM stores.stores) THEN RETURN 1; END IF;
  RETURN v;
END $$;""",
    )
    obj = parse_sql_file(path, tmp_path)
    assert obj.references == {("analytics", "config"), ("stores", "stores")}


def test_table_and_setup_script_kinds(tmp_path: Path) -> None:
    table = write(
        tmp_path,
        "setup",
        "log_t",
        "CREATE TABLE IF NOT EXISTS analytics.log_t (id int);\n"
        "CREATE INDEX IF NOT EXISTS ix_log_t ON analytics.log_t (id);",
    )
    script = write(
        tmp_path,
        "setup",
        "idx",
        "CREATE INDEX IF NOT EXISTS a ON sales.orders (order_date);\n"
        "CREATE INDEX IF NOT EXISTS b ON sales.payments (order_id);",
    )
    assert parse_sql_file(table, tmp_path).kind == TABLE
    obj = parse_sql_file(script, tmp_path)
    assert obj.kind == SETUP_SCRIPT
    assert obj.references == {("sales", "orders"), ("sales", "payments")}


def test_unqualified_relation_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "sales", "vw_u", "CREATE VIEW analytics.vw_u AS SELECT * FROM orders;")
    with pytest.raises(SqlFileError, match="unqualified relation.*orders"):
        parse_sql_file(path, tmp_path)


def test_file_name_must_match_object(tmp_path: Path) -> None:
    path = write(tmp_path, "sales", "vw_a", "CREATE VIEW analytics.vw_b AS SELECT 1;")
    with pytest.raises(SqlFileError, match="file name = object name"):
        parse_sql_file(path, tmp_path)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "sales", "vw_s", "-- header\nCREATE VIEW analytics.vw_s AS\nSELEC 1;")
    with pytest.raises(
        SqlFileError, match=r'vw_s\.sql:3:1: SQL syntax error: syntax error at or near "SELEC"'
    ):
        parse_sql_file(path, tmp_path)


def test_source_tables_come_from_the_contract_ddl() -> None:
    tables = source_tables()
    assert len(tables) == 28
    assert ("sales", "orders") in tables
    columns = source_table_columns()
    assert columns[("sales", "orders")] == [
        "order_id",
        "cust_id",
        "store_id",
        "order_date",
        "order_status",
        "total_amount",
    ]


def test_setup_table_must_be_idempotent(tmp_path: Path) -> None:
    path = write(tmp_path, "setup", "log_u", "CREATE TABLE analytics.log_u (id int);")
    with pytest.raises(SqlFileError, match="IF NOT EXISTS"):
        parse_sql_file(path, tmp_path)


def test_fact_table_kind_separates_ddl_from_load(tmp_path: Path) -> None:
    from retailmart_dagster.assets.sql_parse import FACT_TABLE

    path = write(
        tmp_path,
        "facts",
        "fact_x",
        "CREATE TABLE analytics.fact_x (id int PRIMARY KEY, d date);\n"
        "CREATE INDEX ix_fact_x_d ON analytics.fact_x (d);\n"
        "CREATE TEMP TABLE pg_temp.fact_x_changed ON COMMIT DROP AS\n"
        "  SELECT o.order_date AS day FROM sales.orders AS o GROUP BY o.order_date;\n"
        "DELETE FROM analytics.fact_x AS f USING pg_temp.fact_x_changed AS c WHERE f.d = c.day;\n"
        "INSERT INTO analytics.fact_x SELECT o.order_id, o.order_date FROM sales.orders AS o\n"
        "  JOIN pg_temp.fact_x_changed AS c ON c.day = o.order_date;\n"
        "ALTER TABLE analytics.fact_x ADD CONSTRAINT fact_x_d_key UNIQUE (id, d);",
    )
    obj = parse_sql_file(path, tmp_path)
    assert obj.kind == FACT_TABLE
    assert obj.creates == {("analytics", "fact_x")}
    # Scratch tables in pg_temp are not lineage; the fact itself is not its own dependency.
    assert obj.references == {("sales", "orders")}
    # The load runs on every build: no DDL of the fact in it, every load statement in order.
    assert "CREATE TABLE analytics.fact_x" not in obj.load_sql
    assert "CREATE INDEX" not in obj.load_sql
    assert "ALTER TABLE" not in obj.load_sql  # constraints too: built once, after the first load
    load = obj.load_sql
    assert load.index("CREATE TEMP TABLE") < load.index("DELETE FROM") < load.index("INSERT INTO")


def test_a_table_with_if_not_exists_and_inserts_is_setup_not_a_fact(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "setup",
        "cfg",
        "CREATE TABLE IF NOT EXISTS analytics.cfg (k text PRIMARY KEY);\n"
        "INSERT INTO analytics.cfg VALUES ('a') ON CONFLICT DO NOTHING;",
    )
    assert parse_sql_file(path, tmp_path).kind != "fact_table"
