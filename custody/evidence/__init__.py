"""The evidence pack: one signed file that holds what custody knows of a period, for an auditor to check.

The file is a DSSE envelope (``dsse``) whose payload is an in-toto Statement v1 (``statement``) with custody's own
predicate: raw sections gathered by ``custody.usecases.evidence`` and, apart from them, the conclusions drawn from
them (``controls``). ``keys`` reads and makes Ed25519 keys; ``render`` prints a pack for people. Everything here is
pure: no Vault, no files, no clock.
"""

from __future__ import annotations

# Where the service's signing key lives in Vault: a transit key only the custody service may sign with.
# custody/bootstrap.py creates it, terraform/modules/custody declares it, and custody/policies/*.hcl name it.
TRANSIT_MOUNT = "custody-transit"
TRANSIT_KEY = "custody-evidence"
