"""Raw proxy log files -> rows of the canonical schema -> the store.

One module per input format; `pipeline` drives reading, fingerprinting and
committing. Nothing here imports typer, rich, the CLI, reports or retention.
"""
