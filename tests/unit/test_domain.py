"""Pure rules: platforms, reasons, tickets, durations. No Vault."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.domain.models import Tier, default_approvals, fingerprint
from custody.domain.platforms import PLATFORMS, parse_account_id, parse_codes
from custody.domain.reasons import validate_reason, validate_ticket
from custody.durations import format_duration, parse_duration
from custody.errors import NotFound, ValidationError

PYPI = PLATFORMS["pypi"]


def test_pypi_codes_normalised_like_pypis_form() -> None:
    text = "# my codes\n0123 4567 89AB CDEF\n\n  fedcba9876543210  \n"
    assert parse_codes(PYPI, text) == ["0123456789abcdef", "fedcba9876543210"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0123456789abcdeg", "line 1: malformed PyPI recovery code"),
        ("0123456789abcdef0", "malformed"),
        ("", "no codes given"),
        ("# only a comment", "no codes given"),
        ("0123456789abcdef\n0123456789ABCDEF", "line 2: duplicate code"),
        ("\n".join(f"{i:016x}" for i in range(9)), "9 codes given, pypi accounts have at most 8"),
    ],
)
def test_pypi_bad_code_sets(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        parse_codes(PYPI, text)
    assert "0123456789abcde" not in info.value.message


@given(st.lists(st.binary(min_size=8, max_size=8).map(bytes.hex), min_size=1, max_size=8, unique=True))
def test_any_valid_pypi_set_round_trips(codes: list[str]) -> None:
    assert parse_codes(PYPI, "\n".join(c.upper() for c in codes)) == codes


@given(st.text(max_size=200))
def test_parse_codes_never_crashes_and_never_echoes(text: str) -> None:
    try:
        parse_codes(PYPI, text)
    except ValidationError as exc:
        for line in text.splitlines():
            if len(line.strip()) >= 6:
                assert line.strip() not in exc.message


@pytest.mark.parametrize(
    ("account", "error"),
    [("pypi", ValidationError), ("pypi/", ValidationError), ("pypi/a/b", ValidationError),
     ("pypi/..", ValidationError), ("pypi/-x", ValidationError), ("nope/alice", NotFound),
     ("PyPI/alice", ValidationError), ("pypi/" + "a" * 51, ValidationError), ("pypi/al ice", ValidationError)],
)
def test_bad_account_ids(account: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_account_id(account)


def test_good_account_ids() -> None:
    assert parse_account_id("pypi/acme-publisher")[1] == "acme-publisher"
    assert parse_account_id("pypi/a")[1] == "a"
    assert parse_account_id("generic/ops@acme.example")[0].name == "generic"


@pytest.mark.parametrize(
    "reason",
    ["", " ", ".", "test", "asdf", "x" * 30, "asdf asdf asdf asdf asdf", "please please please help me now",
     "test test test test test test", "aaaaaaaaaaaaaaaaaaaaaaaaaaa", "1234567890 1234567890 12345",
     "need access\nInjected: header", "need access to the account \u202eevil", "a" * 2001],
)
def test_junk_reasons_are_refused(reason: str) -> None:
    with pytest.raises(ValidationError):
        validate_reason(reason, 20)


@pytest.mark.parametrize(
    "reason",
    ["Lost my hardware key on the train; need to revoke a leaked token",
     "Release 2.3.1 is blocked: my phone with the TOTP app was wiped",
     "Perdí mi llave de seguridad, necesito publicar la corrección urgente"],
)
def test_real_reasons_pass(reason: str) -> None:
    assert validate_reason(f"  {reason} ", 20) == reason


@pytest.mark.parametrize("reason", [
    "Hardware-Schlüssel verloren, muss das Sicherheitsupdate 2.3.1 veröffentlichen",  # German
    "ハードウェアキーをなくしたので、修正版を公開したいです",  # Japanese, no spaces
    "鍵を紛失、至急リリースが必要です",  # short, wide characters
    "فقدت مفتاح الأمان وأحتاج إلى نشر الإصدار",  # Arabic
    "सुरक्षा कुंजी खो गई, रिलीज़ रुकी है",  # Hindi: vowel signs and nukta inside words
    "Handy weg 📱💥 brauche Code für Release 2.3.1",  # emoji
    "ключ потерян, нужно выпустить исправление",  # Russian
    "Zgubiłem klucz sprzętowy, muszę wydać poprawkę",  # Polish
    "กุญแจหายต้องเผยแพร่รุ่นแก้ไขด่วน",  # Thai, no spaces
])
def test_short_real_reasons_in_any_script_pass(reason: str) -> None:
    assert validate_reason(reason, 20) == reason


@pytest.mark.parametrize(("reason", "message"), [
    ("need access to the account please", "does not explain anything"),
    ("I need the codes, please grant access asap", "does not explain anything"),
    ("hello, requesting access to the account, thanks", "does not explain anything"),
    ("lost key xyzwv abcde", "keyboard mash: xyzwv, abcde"),
    ("lost my key, need access: lkjhg", "keyboard mash: lkjhg"),
    ("lost my key sdfkjhsdfkjh please", "keyboard mash: sdfkjhsdfkjh"),
    ("hahaha lost the key again", "keyboard mash: hahaha"),
])
def test_filler_and_keyboard_mash_are_refused(reason: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_reason(reason, 20)


def test_a_deployment_adds_its_own_filler_words_and_phrases() -> None:
    reason = "see ticket SEC-1042 for details"
    assert validate_reason(reason, 20) == reason
    with pytest.raises(ValidationError, match="does not explain anything"):
        validate_reason(reason, 20, filler=["see ticket", "for details", "sec"])
    assert validate_reason("see ticket SEC-1042: lost my key", 20, filler=["see ticket", "sec"])


def test_the_filler_setting_takes_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from custody.config import PolicySettings

    monkeypatch.setenv("CUSTODY_REASON_FILLER", "as discussed, per ticket ,fyi")
    assert PolicySettings().reason_filler == ["as discussed", "per ticket", "fyi"]


def test_a_rotation_reason_gets_the_hidden_character_check() -> None:
    from custody.domain.rotation import rotation_reason

    assert rotation_reason(None) == "scheduled rotation"
    assert rotation_reason("  after the  reveal of gr_x ") == "after the reveal of gr_x"
    for hidden in ("\u202e", "\u200b", "\n", "\x1b"):
        with pytest.raises(ValidationError, match="the rotation reason contains an invisible or control character"):
            rotation_reason(f"after the reveal{hidden} of gr_x")


def test_reason_min_length_is_a_setting() -> None:
    with pytest.raises(ValidationError, match="too short"):
        validate_reason("lost key, need code", 40)


@pytest.mark.parametrize("pad", [" " * 20, "\t" * 12, "\u00a0" * 12, "\u3000" * 12])
def test_padding_does_not_count_toward_the_minimum_length(pad: str) -> None:
    with pytest.raises(ValidationError, match="too short"):
        validate_reason("fix it" + pad + "now", 20)
    assert validate_reason("lost my hardware" + pad + "key on a trip", 20) == "lost my hardware key on a trip"


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200f", "\u3164",
                                       "\U000e0020", "\u061c", "\ufe0f", "\u2800", "\ue000", "\u200c"])
def test_invisible_characters_are_refused(invisible: str) -> None:
    with pytest.raises(ValidationError, match="invisible"):
        validate_reason("Lost my hardware key on a trip" + invisible * 12, 20)


def test_tickets() -> None:
    assert validate_ticket(None, None) is None
    assert validate_ticket(" SEC-12 ", r"^[A-Z]+-[0-9]+$") == "SEC-12"
    with pytest.raises(ValidationError, match="required"):
        validate_ticket(None, r"^[A-Z]+-[0-9]+$")
    with pytest.raises(ValidationError, match="pattern"):
        validate_ticket("sec-12", r"^[A-Z]+-[0-9]+$")
    with pytest.raises(ValidationError, match="malformed"):
        validate_ticket("SEC 12\r\n", None)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("365d", 31536000),
                                               ("2w", 1209600), ("45", 45)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1y", "-1h", "1h-", "1.5h", "forever"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["99999999999999999999", "999999999w", "36501d", "3000000d", "9" * 5000,
                                  "\u00b2", "\u0663d", "1\u00b2h"])
def test_durations_out_of_range_or_not_ascii_are_refused(text: str) -> None:
    """Never an OverflowError or a bare ValueError (a 500 in the API): a clear ValidationError."""
    with pytest.raises(ValidationError, match=r"not a duration|out of range"):
        parse_duration(text)
    assert parse_duration("36500d") == timedelta(days=36500)


@given(st.integers(min_value=0, max_value=10**7))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


def test_default_approvals() -> None:
    assert default_approvals(Tier.standard, None) == 0
    assert default_approvals(Tier.critical, None) == 2
    assert default_approvals(Tier.standard, 1) == 1
    with pytest.raises(ValidationError):
        default_approvals(Tier.critical, 0)


def test_fingerprint_is_short_and_not_the_code() -> None:
    fp = fingerprint("0123456789abcdef")
    assert fp.startswith("fp-") and "0123456789abcdef" not in fp and len(fp) == 13


@pytest.mark.parametrize(("path", "policy"), [
    ("accounts/pypi/acme/grants", "custody-requester"), ("accounts/pypi/acme/emergency", "custody-emergency"),
    ("accounts/pypi/acme/codes", "custody-security"), ("grants/gr_aaaaaaaaaaaaaaaa/approve", "custody-approver"),
    ("grants/gr_aaaaaaaaaaaaaaaa/reveal", "custody-requester"), ("rotation/sweep", "custody-rotation"),
    ("audit/summary", "custody-auditor"),
])
def test_a_refusal_names_the_policy_that_would_allow_it(path: str, policy: str) -> None:
    from custody.usecases.authz import policy_hint

    assert policy_hint(path) == policy


def test_text_people_write_is_not_mistaken_for_hidden_characters() -> None:
    for text in ("Lost my hardware key in München; need to publish 2.3.1 👍", "键丢了 需要发布安全修复版本 2.3.1",
                 "perdí mi llave\tde hardware, urge publicar", "Lost my YubiKey \u26a0\ufe0f need the 2.3.1 fix",
                 "dev \U0001f469\u200d\U0001f4bb lost the key, must publish today",
                 "\u06a9\u0644\u06cc\u062f \u0633\u062e\u062a\u200c\u0627\u0641\u0632\u0627\u0631\u06cc "
                 "\u06af\u0645 \u0634\u062f\u0647 \u0627\u0633\u062a", "lost key \U0001fae8 need release 2.3.1"):
        assert validate_reason(text, 10)
