"""The technician's morning view (`surfaudit dashboard`).

`data` gathers what it shows through the reports' own library functions, so a
figure on the dashboard is the figure `surfaudit report` prints, with the same
pseudonymisation and audit entries; `app` is the Textual user interface and the
only module here that imports Textual or rich.
"""
