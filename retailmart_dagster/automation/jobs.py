"""Jobs for partial refreshes: one per KPI domain, one for the business alerts.

A domain job selects the domain's group and its dashboard exports (``dashboard/<domain>/*``), plus
everything they need upstream (setup, the data-quality evaluation and gate, objects of other domains
they read, the export functions) and the manifest, so the dashboard sees the new files. Source tables
are external and never selected. The checks-only job is the data-quality layer's ``data_quality_job``.
"""

from dagster import AssetSelection, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from retailmart_dagster.assets.alerts import ALERT_GROUP
from retailmart_dagster.assets.exports import MANIFEST_KEY
from retailmart_dagster.assets.sql_assets import SOURCE_GROUP

DOMAINS = ("sales", "customers", "products", "stores", "operations", "marketing")
ALERTS_JOB = "alerts_refresh_job"


def domain_job_name(domain: str) -> str:
    return f"{domain}_refresh_job"


def refresh_selection(group: str, export_prefix: list[str]) -> AssetSelection:
    """The group, its exports, what they need upstream, and the manifest; never the sources."""
    targets = AssetSelection.groups(group) | AssetSelection.key_prefixes(export_prefix)
    return (targets.upstream() | AssetSelection.assets(MANIFEST_KEY)) - AssetSelection.groups(
        SOURCE_GROUP
    )


def domain_job(domain: str) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        domain_job_name(domain),
        selection=refresh_selection(domain, ["dashboard", domain]),
        description=f"Partial refresh of the {domain} domain: its KPI objects and "
        f"dashboard/data/{domain}/*.json, with what they need upstream (setup, data-quality gate) "
        "and the manifest.",
        tags={"retailmart/refresh": domain},
    )


def alerts_job() -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        ALERTS_JOB,
        selection=refresh_selection(ALERT_GROUP, ["dashboard", "alerts"]),
        description="The business alerts: the six alert views, the alert history sync and "
        "dashboard/data/alerts.json, with the KPI objects they read.",
        tags={"retailmart/refresh": ALERT_GROUP},
    )


def refresh_jobs() -> list[UnresolvedAssetJobDefinition]:
    return [*(domain_job(d) for d in DOMAINS), alerts_job()]


__all__ = ["ALERTS_JOB", "DOMAINS", "domain_job_name", "refresh_jobs"]
