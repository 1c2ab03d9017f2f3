"""The ``custody`` command line: a thin client of the API, plus local commands (dev, serve, bootstrap, audit)."""
