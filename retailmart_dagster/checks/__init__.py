"""Data quality: the five dimensions (completeness, accuracy, consistency, timeliness, uniqueness) as
checks on the RetailMart source tables, gating the KPIs.

- ``sql/<dimension>/<dimension>_<what>.sql``: one check per rule (the rule lives in SQL, its severity
  and thresholds in ``analytics.toml``: ``[quality_checks]`` and ``[quality]``);
- ``registry``: reads and validates the check files; ``evaluate``: runs them and turns each row into a
  verdict, a Dagster check result and the gate's message; ``store``: keeps every evaluation in
  ``analytics.data_quality_results`` and the open/resolved findings in ``analytics.data_quality_issues``;
- ``assets``: the Dagster wiring (check specs on the source assets, the evaluation and gate assets,
  FreshnessPolicies on the source tables, ``data_quality_job``).
"""
