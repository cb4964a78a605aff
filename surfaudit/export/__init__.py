"""Investigation exports (DESIGN §7 `export`): one identity, a reason, a CSV or HTML file.

`export_investigation` is the entry point; the CSV and HTML renderers and the
data they share are separate modules. Nothing here imports surfaudit.reports,
ingest, retention, the CLI, typer or rich (DESIGN §2): the numbers come from
the same query files the reports run, through surfaudit.sql.
"""

from surfaudit.export.investigation import FORMATS, ExportResult, export_investigation

__all__ = ["FORMATS", "ExportResult", "export_investigation"]
