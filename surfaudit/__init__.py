"""surfaudit: staff social-media policy audits from web-filter (proxy) logs.

This package root deliberately imports nothing, so that `import ingest` or
`import retention` never drags in the CLI, typer or rich.
"""

__version__ = "0.1.0"
