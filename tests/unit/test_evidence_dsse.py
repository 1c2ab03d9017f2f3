"""The evidence pack's envelope without Vault: DSSE's PAE, strict parsing, signing, verification, the period."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.evidence import dsse
from custody.evidence.dsse import Envelope, InvalidEvidence
from custody.evidence.keys import LocalSigner, generate, load_public
from custody.evidence.statement import check_logs, parse_period, parse_statement, payload_bytes, statement, subject
from tests.evidencekit import predicate


def test_pae_is_dsse_v1() -> None:
    # The example of the DSSE protocol document.
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "
    # lengths are bytes, not characters
    assert dsse.pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def _key() -> tuple[LocalSigner, dsse.PublicKey]:
    private, public = generate()
    return LocalSigner(private, "key"), load_public(public.encode(), "key.pub")


PAYLOAD = payload_bytes(statement([subject("audit.log", "0" * 64)], predicate(controls=[])))


def _signed() -> tuple[bytes, dsse.PublicKey]:
    signer, public = _key()
    return dsse.sign(Envelope(PAYLOAD), [signer]).dumps(), public


def test_a_signed_envelope_verifies_and_its_statement_reads() -> None:
    raw, public = _signed()
    env = dsse.parse(raw)
    assert dsse.verify(env, [public]).signers == ("key.pub",)
    assert parse_statement(env.payload)["predicate"]["period"]["start"].startswith("2026-01-01")
    assert set(json.loads(raw)) == {"payload", "payloadType", "signatures"}


def test_a_wrong_key_fails_and_names_the_key_ids() -> None:
    raw, _ = _signed()
    _, other = _key()
    with pytest.raises(InvalidEvidence, match="no signature was made by a key given") as e:
        dsse.verify(dsse.parse(raw), [other])
    assert "sha256:" in (e.value.hint or "")


def test_a_second_signature_is_added_and_both_verify() -> None:
    raw, first = _signed()
    second_signer, second = _key()
    env = dsse.sign(dsse.parse(raw), [second_signer])
    assert len(env.signatures) == 2
    assert dsse.verify(dsse.parse(env.dumps()), [first, second]).signers == ("key.pub", "key.pub")
    # with one key only, the other signature is reported as not checked
    assert dsse.verify(env, [second]).unchecked == (env.signatures[0].keyid,)
    with pytest.raises(InvalidEvidence, match="already signed by key"):
        dsse.sign(env, [second_signer])


def test_a_key_id_is_a_hint_only() -> None:
    raw, public = _signed()
    doc = json.loads(raw)
    doc["signatures"][0]["keyid"] = "renamed"
    assert dsse.verify(dsse.parse(json.dumps(doc).encode()), [public]).signers == ("key.pub",)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_single_byte_change_of_the_payload_fails(data: st.DataObject) -> None:
    raw, public = _KEYED
    doc = json.loads(raw)
    payload = bytearray(base64.b64decode(doc["payload"]))
    i = data.draw(st.integers(0, len(payload) - 1))
    payload[i] ^= data.draw(st.integers(1, 255))
    doc["payload"] = base64.b64encode(bytes(payload)).decode()
    with pytest.raises(InvalidEvidence, match="does not verify"):
        dsse.verify(dsse.parse(json.dumps(doc).encode()), [public])


_KEYED = _signed()
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_every_single_character_change_of_the_base64_fails(field: str) -> None:
    """Exhaustive over every position of the signature, and over a stride of the payload's text (its every
    byte is covered by the property above): each replacement by another base64 character, a non-base64 one,
    or a deletion."""
    raw, public = _KEYED
    doc = json.loads(raw)
    text = doc["payload"] if field == "payload" else doc["signatures"][0]["sig"]
    positions = range(len(text)) if field == "sig" else sorted({*range(0, len(text), 7), len(text) - 1,
                                                                len(text) - 2, len(text) - 3})
    for i in positions:
        for new in ({_B64[(_B64.index(text[i]) + 1) % 65], "!", ""} - {text[i]}):
            changed = text[:i] + new + text[i + 1:]
            mutated = json.loads(raw)
            if field == "payload":
                mutated["payload"] = changed
            else:
                mutated["signatures"][0]["sig"] = changed
            with pytest.raises(InvalidEvidence):
                dsse.verify(dsse.parse(json.dumps(mutated).encode()), [public])


def test_non_canonical_base64_is_refused() -> None:
    assert base64.b64decode("QR==") == base64.b64decode("QQ==")  # why: the same bytes, another text
    doc = {"payload": "QR==", "payloadType": dsse.PAYLOAD_TYPE, "signatures": [{"keyid": "", "sig": "QQ=="}]}
    with pytest.raises(InvalidEvidence, match="not canonical base64"):
        dsse.parse(json.dumps(doc).encode())


@pytest.mark.parametrize(("raw", "why"), [
    (b"not json", "not JSON"),
    (b"[]", "exactly the keys"),
    (b'{"payload": "", "payloadType": "x"}', "exactly the keys"),
    (b'{"payload": 1, "payloadType": "x", "signatures": []}', "must be strings"),
    (b'{"payload": "", "payloadType": "x", "signatures": {}}', "must be a list"),
    (b'{"payload": "", "payloadType": "x", "signatures": [{"sig": ""}]}', "signature 1 must be"),
    (b'{"payload": "@@", "payloadType": "x", "signatures": []}', "payload is not base64"),
])
def test_a_malformed_envelope_says_what_is_wrong(raw: bytes, why: str) -> None:
    with pytest.raises(InvalidEvidence, match=why):
        dsse.parse(raw)


def test_payload_type_and_missing_signatures_fail() -> None:
    _, public = _key()
    with pytest.raises(InvalidEvidence, match="wrong payload type"):
        dsse.verify(Envelope(PAYLOAD, "text/plain"), [public])
    with pytest.raises(InvalidEvidence, match="not signed"):
        dsse.verify(Envelope(PAYLOAD), [public])


def test_a_statement_of_another_kind_is_refused() -> None:
    with pytest.raises(InvalidEvidence, match="predicateType"):
        parse_statement(json.dumps({"_type": "https://in-toto.io/Statement/v1", "predicateType": "x"}).encode())
    with pytest.raises(InvalidEvidence, match="not an in-toto Statement"):
        parse_statement(b'{"_type": "other"}')
    with pytest.raises(InvalidEvidence, match="not JSON"):
        parse_statement(b"\xff")


def test_a_log_changed_since_the_pack_is_named() -> None:
    stmt = json.loads(PAYLOAD)
    assert check_logs(stmt, [("/x/audit.log", "0" * 64)]) == ["/x/audit.log"]
    with pytest.raises(InvalidEvidence, match=r"audit\.log no longer matches the pack"):
        check_logs(stmt, [("/x/audit.log", "1" * 64)])
    with pytest.raises(InvalidEvidence, match=r"other\.log is not one of the audit logs"):
        check_logs(stmt, [("other.log", "1" * 64)])


def test_periods() -> None:
    p = parse_period("2026-01-01/2026-12-31")
    assert p.as_json() == {"start": "2026-01-01T00:00:00+00:00", "end": "2027-01-01T00:00:00+00:00"}
    assert parse_period("2026-01-01T08:00:00+02:00/2026-01-02T00:00Z").start.hour == 6
    for bad, why in [("2026-01-01", "not a period"), ("2026-02-30/2026-03-01", "not a date"),
                     ("2026-03-01/2026-01-01", "ends before"), ("2020-01-01/2026-01-01", "three years"),
                     ("/2026-01-01", "not a period"), ("9999-12-30/9999-12-31", "not a date"),
                     ("0001-01-01T00:00:00+01:00/2026-01-01", "not a date"), ("2026-01-01/2026-01-01T25:00", "not a")]:
        with pytest.raises(InvalidEvidence, match=why):
            parse_period(bad)


def test_a_key_file_that_is_not_a_key_is_named() -> None:
    with pytest.raises(InvalidEvidence, match="not a PEM key file"):
        LocalSigner(b"hello", "k.pem")
    with pytest.raises(InvalidEvidence, match="not a PEM key file"):
        load_public(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "k.pub")
    private, _ = generate()
    assert "PRIVATE" not in repr(LocalSigner(private, "k"))
    assert load_public(private, "k").keyid == LocalSigner(private, "k").keyid  # the public half of a private file
