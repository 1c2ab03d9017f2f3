"""Pure models and rules: no I/O here, so everything is testable without a server."""
