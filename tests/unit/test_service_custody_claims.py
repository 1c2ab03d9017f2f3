"""What the docs and comments say the service sees of a code is what it does: no text claims a code never passes
through the server, and the threat model's account of what it holds names the figures the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from custody.config import ServerSettings

ROOT = Path(__file__).resolve().parents[2]
OVERSTATEMENTS = re.compile(r"never pass(es)? through (this|the) (process|service|server)|codes? never (reach|touch)"
                            r"(es)? (the )?(service|server)", re.I)


def texts() -> dict[str, str]:
    files = [*ROOT.glob("custody/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("deploy/**/*")]
    return {str(f.relative_to(ROOT)): f.read_text() for f in files if f.is_file()}


def test_no_text_says_codes_never_pass_through_the_server() -> None:
    found = {name: m.group(0) for name, text in texts().items() if (m := OVERSTATEMENTS.search(text))}
    assert found == {}


def test_the_threat_model_says_what_the_service_holds_and_for_how_long() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    section = text[text.index("## What the service sees and keeps"):text.index("## What custody defends against")]
    for fact in ("`reveals/<grant>`", "`codes/<account>`", "every code of the set", "keyed BLAKE2b digest",
                 "redaction processor", "does not wipe freed memory", "resumes the reveal"):
        assert fact in section, fact
    seconds = re.search(r"`CUSTODY_CALLER_CACHE_SECONDS` \((\d+) s\)", section)
    assert seconds and float(seconds.group(1)) == ServerSettings.model_fields["caller_cache_seconds"].default
    assert "`LimitCORE=0`" in section and "LimitCORE=0" in (ROOT / "deploy/systemd/custody.service").read_text()
