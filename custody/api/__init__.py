"""The HTTP API: Vault's dialect (``/v1/custody/...``, ``X-Vault-Token``, the response envelope, LIST)."""
