"""The typed shape of an audit entry: the few fields the summary reads, decoded by msgspec, the rest skipped.

A Vault audit line is one to three kilobytes of JSON, of which the summary reads a few dozen fields. Decoding into
the Structs below builds only those (msgspec skips every other key without building it) and checks their types
in C, so that ``extract`` reads attributes instead of looking up and checking dict values. ``request.data``
holds the fields of every kind of call the summary reads (``Data``): a custody record, a wrapping token, a
remount's ``from`` and ``to``.

Vault writes every field with one type. A line with a value of another type (hostile or broken) is read as the
summary always read it: a string that is not a string is ``""``, an object that is not an object is absent
(``None``, or the default), members of a list that have the wrong type are left out, and an integer is one that
fits in 64 bits (others are the default, like a number that is not an integer). Such a line fails typed
validation; it is then decoded untyped and ``coerce``-d, field by field, to the same Structs, so the extractor
sees one shape whatever the line. A line that is not JSON at all is ``None``: counted invalid. (What is skipped
is not checked for UTF-8: the reader checks the lines of a chunk that is not all ASCII.)
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)

# An integer Vault writes (a count, a TTL). A string is kept as it is (``extract._int`` reads digits); a number
# outside 64 bits is not an integer to the summary.
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | str
Flag = bool | str  # a boolean some writers put in quotes ("true")
INT_LOW, INT_HIGH = -(2**63), 2**64  # the integers JSON parsers keep exact (unsigned 64-bit included)


class Meta(msgspec.Struct, gc=False):
    role_name: str = ""


class Auth(msgspec.Struct, gc=False):
    display_name: str = ""
    entity_id: str = ""
    metadata: Meta | None = None
    policies: tuple[str, ...] = ()
    client_token: str = ""


class WrapInfo(msgspec.Struct, gc=False):
    token: str = ""
    accessor: str = ""  # the wrapping token's accessor (HMAC'd, as the service's records write it, by default)
    ttl: Int = 0


class Response(msgspec.Struct, gc=False):
    wrap_info: WrapInfo | None = None


class Request(msgspec.Struct, gc=False):
    id: str = ""
    path: str = ""
    operation: str = ""
    remote_address: str = ""
    client_token: str = ""
    data: Data | None = None


class Entry(msgspec.Struct, gc=False):
    time: str = ""
    type: str = ""
    auth: msgspec.Raw = msgspec.Raw()  # decoded once per distinct token (``extract.Extractor.auth_of``): an ``Auth``
    request: Request | None = None
    error: str = ""
    response: Response | None = None


# --- request.data, by kind of call --------------------------------------------------------------------------


class Approved(msgspec.Struct, gc=False):
    """An approval as a grant record states it."""

    approver: str = ""
    approver_entity: str = ""
    at: str = ""
    comment: str = ""


class Denied(msgspec.Struct, gc=False):
    """A grant's denial as its record states it."""

    denied_by: str = ""
    denied_by_entity: str = ""
    at: str = ""
    comment: str = ""


class Reviewed(msgspec.Struct, gc=False):
    """An emergency grant's review as its record states it."""

    reviewed_by: str = ""
    reviewed_by_entity: str = ""
    at: str = ""
    comment: str = ""


class Attempt(msgspec.Struct, gc=False):
    """A grant's latest try at handing out its code, as its record states it (``reveal_attempt``): its number (in
    clear: Vault HMACs strings only) and the accessor of the wrapping token it handed out (HMAC'd)."""

    number: Int = 0
    accessor: str = ""


class Record(msgspec.Struct, gc=False):
    """A custody record as the service writes it (``request.data.data``): the fields of every kind it writes."""

    event: str = ""
    actor: str = ""
    actor_entity: str = ""
    account: str = ""
    # grants
    grant_id: str = ""
    requester: str = ""
    requester_entity: str = ""
    reason: str = ""
    ticket: str = ""
    status: str = ""
    approvals: tuple[Approved, ...] = ()
    emergency: Flag = False
    reviewed_by: str = ""
    denial: Denied | None = None
    review: Reviewed | None = None
    drill: str = ""
    reveal_attempt: Attempt | None = None
    # code sets
    remaining: Int = -1
    # accounts
    owner: str = ""
    tier: str = ""
    approvals_required: Int = 0
    # refusals the API recorded
    path: str = ""
    capability: str = ""


class Data(msgspec.Struct, gc=False):
    """``request.data``, with the fields each kind of call the summary reads has there: a KV v2 write's record
    under ``data``, the wrapping token an unwrap or a rewrap presents, a remount's ``from`` and ``to``. (An admin
    write's fields, whatever they are, are read from the line untyped: ``request_data``.)"""

    data: Record | None = None
    token: str = ""
    src: str = msgspec.field(default="", name="from")
    to: str = ""


# --- decoding -------------------------------------------------------------------------------------------------

_UNTYPED = msgspec.json.Decoder()
_DECODERS: dict[type, Callable[[Any], Any]] = {}
_BAD_JSON = (msgspec.DecodeError, RecursionError)  # ValidationError is a DecodeError: caught before these


def decode(buf: Any, cls: type[S]) -> S | None:
    """``buf`` (bytes or a buffer of one JSON value) as ``cls``, leniently (see the module); None if not JSON."""
    dec = _DECODERS.get(cls)
    if dec is None:
        dec = _DECODERS[cls] = msgspec.json.Decoder(cls).decode
    try:
        return dec(buf)
    except msgspec.ValidationError:
        pass
    except _BAD_JSON:
        return None
    try:
        value = _UNTYPED.decode(buf)
    except msgspec.ValidationError:  # a number out of range, which other JSON parsers refuse too
        return None
    except _BAD_JSON:
        return None
    return coerce(value, cls)


def request_data(line: Any) -> dict[str, Any]:
    """The ``request.data`` object of a line, untyped (an admin write's fields, read whatever they are); {} if
    there is none."""
    try:
        e = _UNTYPED.decode(line)
    except msgspec.DecodeError:
        return {}
    req = e.get("request") if type(e) is dict else None
    data = req.get("data") if type(req) is dict else None
    return data if type(data) is dict else {}


# --- the lenient path: an untyped value coerced to a Struct ---------------------------------------------------

Coerce = Callable[[Any], Any]
_PLANS: dict[type, list[tuple[str, str, Coerce, Any]]] = {}


def coerce(value: Any, cls: type[S]) -> S | None:
    """An untyped JSON value as ``cls``: None if it is not an object, each field read as the module says."""
    if type(value) is not dict:
        return None
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls)
    kwargs = {}
    for name, key, conv, default in plan:
        if key in value:
            got = conv(value[key])
            kwargs[name] = default if got is _NO else got
    return cls(**kwargs)


_NO = object()


def _plan(cls: type) -> list[tuple[str, str, Coerce, Any]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return [(f.name, f.encode_name, _converter(hints[f.name]), f.default) for f in msgspec.structs.fields(cls)]


def _converter(hint: Any) -> Coerce:
    if hint is str:
        return lambda v: v if type(v) is str else _NO
    if hint is msgspec.Raw:
        return lambda v: msgspec.Raw(msgspec.json.encode(v))
    if hint == Int:
        return lambda v: v if type(v) is str or (type(v) is int and INT_LOW <= v < INT_HIGH) else _NO
    if hint == Flag:
        return lambda v: v if type(v) is bool or type(v) is str else _NO
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        member = args[0]
        if member is str:
            return lambda v: tuple(x for x in v if type(x) is str) if type(v) is list else _NO
        return lambda v: tuple(c for x in v if (c := coerce(x, member)) is not None) if type(v) is list else _NO
    struct = next(a for a in args if isinstance(a, type) and issubclass(a, msgspec.Struct))
    return lambda v: coerce(v, struct)
