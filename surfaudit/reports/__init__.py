"""The reports: social time, blocked attempts, top traffic and what the store holds.

`specs` is the table of reports (columns, options, sort keys) and the functions
that run their queries over a DuckDB view named `events`; `run` is what the CLI
calls. Every function returns a polars DataFrame with the exact columns of its
report. No CLI, ingest, retention or export imports here (DESIGN §2 import rules).
"""

from surfaudit.reports.specs import (
    BLOCKED_COLUMNS, SEGMENT_COLUMNS, SOCIAL_COLUMNS, SPECS, SUMMARY_COLUMNS, TOP_KEYS, blocked_report,
    needed_utc_range, range_params, registrable_domain, report_parameters, social_report, social_segments,
    summary_report, top_report,
)

__all__ = [
    "BLOCKED_COLUMNS", "SEGMENT_COLUMNS", "SOCIAL_COLUMNS", "SPECS", "SUMMARY_COLUMNS", "TOP_KEYS",
    "blocked_report", "needed_utc_range", "range_params", "registrable_domain", "report_parameters",
    "social_report", "social_segments", "summary_report", "top_report",
]
