"""custody: break-glass custody of account recovery codes in Vault/OpenBao."""

__version__ = "0.1.0"
