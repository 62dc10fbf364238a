"""The data-quality check files: one per dimension and rule, each with a configured severity, a source
table, SQL that parses, and the policy (what blocks) in the configuration — without a database."""

import re
from pathlib import Path

import pytest

from retailmart_dagster.assets.sql_parse import SqlFileError, source_tables
from retailmart_dagster.checks.registry import (
    CHECKS_SQL_DIR,
    DIMENSIONS,
    SEVERITY_SECTION,
    load_checks,
    parse_check_file,
    severities,
)
from retailmart_dagster.config import ConfigError, config_values
from retailmart_dagster.generate.defects import DEFECTS

CHECKS = load_checks()
BY_NAME = {c.name: c for c in CHECKS}

# The policy the issue asks for: orphans in the sales facts, negative (or zero) sales amounts and
# totals that do not add up block the KPIs; everything else warns.
CRITICAL = {
    "consistency_orphan_orders",
    "consistency_orphan_order_items",
    "consistency_orphan_payments",
    "consistency_orphan_shipments",
    "consistency_orphan_returns",
    "accuracy_order_amount_not_positive",
    "accuracy_order_item_quantity_not_positive",
    "accuracy_order_item_price_not_positive",
    "accuracy_order_item_discount_out_of_range",
    "accuracy_payment_amount_not_positive",
    "accuracy_refund_amount_negative",
    "consistency_order_total_mismatch",
    "consistency_payment_amount_mismatch",
    "consistency_revenue_summary_net_profit",
}

# Every rule the issue lists, by the check that implements it.
ISSUE_RULES = {
    "completeness_order_customer": "sales.orders",
    "completeness_order_store": "sales.orders",
    "completeness_order_item_price": "sales.order_items",
    "completeness_customer_name": "customers.customers",
    "completeness_product_category": "products.products",
    "completeness_delivered_shipment_date": "sales.shipments",
    "accuracy_order_amount_not_positive": "sales.orders",
    "accuracy_order_item_quantity_not_positive": "sales.order_items",
    "accuracy_inventory_stock_negative": "products.inventory",
    "accuracy_order_item_discount_out_of_range": "sales.order_items",
    "accuracy_customer_age_out_of_range": "customers.customers",
    "accuracy_review_rating_out_of_range": "customers.reviews",
    "accuracy_order_date_after_reference": "sales.orders",
    "accuracy_delivery_before_shipment": "sales.shipments",
    "accuracy_shipment_before_order": "sales.shipments",
    "accuracy_refund_over_paid": "sales.returns",
    "consistency_orphan_orders": "sales.orders",
    "consistency_orphan_order_items": "sales.order_items",
    "consistency_orphan_payments": "sales.payments",
    "consistency_orphan_shipments": "sales.shipments",
    "consistency_orphan_returns": "sales.returns",
    "consistency_orphan_reviews": "customers.reviews",
    "consistency_orphan_inventory": "products.inventory",
    "consistency_order_total_mismatch": "sales.orders",
    "consistency_payment_amount_mismatch": "sales.payments",
    "consistency_order_shipment_status": "sales.orders",
    "consistency_return_of_undelivered_order": "sales.returns",
    "consistency_email_clicked_not_opened": "marketing.email_clicks",
    "consistency_ad_conversions_over_clicks": "marketing.ads_spend",
    "timeliness_latest_order_lag": "sales.orders",
    "timeliness_stale_inventory": "products.inventory",
    "timeliness_stuck_open_orders": "sales.orders",
    "uniqueness_duplicate_revenue_summary": "finance.revenue_summary",
    "uniqueness_duplicate_salary_history": "hr.salary_history",
    "uniqueness_duplicate_customers": "customers.customers",
    "uniqueness_multiple_payments_per_order": "sales.payments",
    "uniqueness_duplicate_shipments_per_order": "sales.shipments",
}


def test_every_dimension_has_checks_named_after_it() -> None:
    assert {c.dimension for c in CHECKS} == set(DIMENSIONS)
    for check in CHECKS:
        assert check.name.startswith(f"{check.dimension}_"), check.name
        assert check.path.parent == CHECKS_SQL_DIR / check.dimension
        assert check.description, check.name
    assert len(BY_NAME) == len(CHECKS)


def test_every_rule_of_the_issue_has_its_check_on_its_table() -> None:
    for name, table in ISSUE_RULES.items():
        assert name in BY_NAME, f"missing check {name}"
        assert BY_NAME[name].table_name == table, name


def test_every_declared_or_undeclared_reference_is_checked() -> None:
    """Each source table with a reference to another table has an orphan check reading both."""
    schema = (CHECKS_SQL_DIR.parents[1] / "source" / "schema.sql").read_text()
    references = set(re.findall(r"REFERENCES (\w+\.\w+)", schema))
    referencing: dict[str, set[str]] = {}
    current = None
    for line in schema.splitlines():
        m = re.match(r"CREATE TABLE (\w+\.\w+)", line)
        if m:
            current = m.group(1)
        for target in re.findall(r"REFERENCES (\w+\.\w+)", line):
            referencing.setdefault(current, set()).add(target)
    referencing["customers.reviews"].add("products.products")  # no FK in the contract
    referencing["products.inventory"].add("stores.stores")  # no FK in the contract
    assert references
    orphan_checks = [c for c in CHECKS if "_orphan_" in c.name]
    for table, targets in referencing.items():
        covering = [c for c in orphan_checks if c.table_name == table]
        assert covering, f"no orphan check on {table}"
        read = {f"{s}.{t}" for c in covering for (s, t) in c.reads}
        assert targets <= read, f"{table}: orphan check does not read {targets - read}"


def test_every_check_has_a_configured_severity_and_the_policy_is_in_config() -> None:
    values = config_values()
    configured = severities(CHECKS, values)
    assert set(configured) == set(BY_NAME)
    assert {n for n, s in configured.items() if s == "ERROR"} == CRITICAL
    section = {k for k in values if k.startswith(f"{SEVERITY_SECTION}.")}
    assert section == {c.severity_key for c in CHECKS}


def test_a_check_without_severity_or_with_a_bad_one_is_a_clear_error() -> None:
    check = CHECKS[0]
    values = dict(config_values())
    del values[check.severity_key]
    with pytest.raises(ConfigError, match=check.name):
        severities(CHECKS, values)
    values[check.severity_key] = "FATAL"
    with pytest.raises(ConfigError, match="must be one of"):
        severities(CHECKS, values)
    values[check.severity_key] = "WARN"
    values[f"{SEVERITY_SECTION}.no_such_check"] = "WARN"
    with pytest.raises(ConfigError, match="no_such_check"):
        severities(CHECKS, values)


def test_checks_read_their_own_table_and_only_setup_functions() -> None:
    sources = set(source_tables())
    for check in CHECKS:
        assert check.table in check.reads <= sources, check.name
        assert all(schema == "analytics" for schema, _ in check.uses), check.name
        assert {n for _, n in check.uses} <= {
            "fn_config_int",
            "fn_config_numeric",
            "fn_config_text",
            "fn_config_text_array",
            "fn_reference_date",
        }, check.name


def test_sample_keys_are_bounded_and_ordered() -> None:
    """Every sample-key list is cut at the configured limit, after a deterministic ORDER BY (the lag
    check has at most one failing row)."""
    sample = re.compile(
        r"ARRAY\(SELECT .+? FROM failing AS f\s+(ORDER BY [^)]+?\s+)?LIMIT p\.sample_limit\)", re.S
    )
    for check in CHECKS:
        match = sample.search(check.sql)
        assert match, f"{check.name}: sample keys must be ARRAY(SELECT ... LIMIT p.sample_limit)"
        if check.name != "timeliness_latest_order_lag":
            assert match.group(1), f"{check.name}: sample keys need an ORDER BY"
        assert "'quality.sample_key_limit'" in check.sql


def test_checks_do_not_reuse_the_generators_defect_queries() -> None:
    """Independence: the checks are written from the contract, not copied from the generator."""

    def normal(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip().lower()

    for check in CHECKS:
        body = normal(check.sql)
        for defect in DEFECTS:
            assert normal(defect.count_sql) not in body, (check.name, defect.name)


def test_wall_clock_only_in_the_lag_check() -> None:
    for check in CHECKS:
        uses_clock = bool(re.search(r"\b(now\(\)|current_date|current_timestamp)", check.sql))
        assert uses_clock == (check.name == "timeliness_latest_order_lag"), check.name


@pytest.mark.parametrize(
    ("folder", "name", "text", "message"),
    [
        ("freshness", "freshness_x", "SELECT 1", "folder named after a dimension"),
        ("accuracy", "x_bad_name", "SELECT 1", "named <dimension>_<what>"),
        ("accuracy", "accuracy_x", "-- No table line\nSELECT 1", "-- Table:"),
        (
            "accuracy",
            "accuracy_x",
            "-- About nothing.\n-- Table: sales.nope\nSELECT 1",
            "not a source table",
        ),
        (
            "accuracy",
            "accuracy_x",
            "-- About orders.\n-- Table: sales.orders\nSELECT count(*) FROM sales.payments",
            "never reads it",
        ),
        (
            "accuracy",
            "accuracy_x",
            "-- About orders.\n-- Table: sales.orders\nSELECT count(*) FROM sales.orders",
            "fn_config_text\\('quality_checks.accuracy_x'\\)",
        ),
        ("accuracy", "accuracy_x", "-- Broken.\n-- Table: sales.orders\nSELEC 1", "syntax error"),
    ],
)
def test_a_bad_check_file_is_a_clear_error(
    tmp_path: Path, folder: str, name: str, text: str, message: str
) -> None:
    path = tmp_path / folder / f"{name}.sql"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(SqlFileError, match=message) as err:
        parse_check_file(path)
    assert str(path) in str(err.value)
