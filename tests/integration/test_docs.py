"""docs/ is generated from the code; a stale copy fails this test (run `retailmart docs`)."""

import psycopg
import pytest

from retailmart_dagster.docs import render_kpi_definitions, stale_docs

pytestmark = pytest.mark.integration


def test_docs_are_up_to_date(kpi_conn: psycopg.Connection) -> None:
    stale = stale_docs(kpi_conn)
    assert not stale, f"stale: {stale}; regenerate with `.venv/bin/retailmart docs`"


def test_kpi_definitions_list_every_kpi() -> None:
    text = render_kpi_definitions()
    assert "analytics.mv_monthly_sales_dashboard" in text
    assert "| `revenue` |" in text
