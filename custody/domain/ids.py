"""Identifiers custody mints. Plain ``re``, nothing heavier: the CLI checks ids before it sends them."""

from __future__ import annotations

import base64
import re
import secrets

GRANT_ID = re.compile(r"gr_[a-z2-7]{16}")
GRANT_ID_PATTERN = r"^gr_[a-z2-7]{16}$"


def new_grant_id() -> str:
    return "gr_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


DRILL_ID = re.compile(r"dr_[a-z2-7]{12}")


def new_drill_id() -> str:
    return "dr_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()[:12]
