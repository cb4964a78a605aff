"""Reports of DESIGN §6 over a DuckDB view named `events` (columns of §3).

The caller (the store) creates that view over the month partitions covering
`needed_utc_range(cfg, date_from, date_to)`; every function here returns a
polars DataFrame with the exact columns of its report. No CLI, ingest,
retention or export imports here (DESIGN §2 import rules).
"""

from surfaudit.reports.blocked import BLOCKED_COLUMNS, blocked_report
from surfaudit.reports.common import needed_utc_range, report_parameters
from surfaudit.reports.social import SEGMENT_COLUMNS, SOCIAL_COLUMNS, social_report, social_segments
from surfaudit.reports.summary import SUMMARY_COLUMNS, summary_report
from surfaudit.reports.top import TOP_KEYS, registrable_domain, top_report

__all__ = [
    "BLOCKED_COLUMNS", "SEGMENT_COLUMNS", "SOCIAL_COLUMNS", "SUMMARY_COLUMNS", "TOP_KEYS",
    "blocked_report", "needed_utc_range", "registrable_domain", "report_parameters",
    "social_report", "social_segments", "summary_report", "top_report",
]
