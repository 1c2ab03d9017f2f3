"""From one decoded audit entry (``entry.Entry``) to at most one fact (``facts``), for a given mount and service
AppRole role."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from custody.auditlog.entry import (
    Approved,
    Auth,
    Denied,
    Entry,
    Record,
    Request,
    Reviewed,
    decode,
    request_data,
)
from custody.auditlog.facts import (
    ADMIN,
    BLAKE8,
    CUBBYHOLE,
    HANDED_OUT,
    HMAC,
    MAX_TTL,
    MOUNT,
    NO_DECISION,
    RAW,
    REQUEST,
    RESPONSE,
    REVEAL_FAILED,
    REWRAP,
    UNWRAP,
    Fact,
    GrantEntry,
    GrantInfo,
    GrantState,
    Handout,
    Touch,
    UnwrapAttempt,
    Who,
    Write,
)
from custody.auditlog.facts import Decision as DecisionTuple

CACHE_MAX = 20_000  # distinct strings an Extractor shares before it starts afresh
AUTHS_MAX = 256  # distinct auth objects (tokens) it keeps decoded
STAGED = "cubbyhole/reveals/"  # where the service stages a code to wrap it (its own token's cubbyhole)
_SLASHES = re.compile("/{2,}")
NO_AUTH = Auth()
NO_RECORD = Record()
NOBODY = Who("", "")
# NamedTuple(...) runs a Python-level __new__; the facts made for every custody line are built as the same
# tuples with tuple.__new__ (positional, in field order), at a third of the cost.
_new = tuple.__new__


def norm_path(path: str) -> str:
    """A request path as Vault routes it: repeated slashes collapsed, no slash at either end.

    ``sys/mounts/custody-kv%2F/tune`` is logged as ``sys/mounts/custody-kv//tune``, a disable may end in ``/``:
    every comparison with the mount and the admin paths is made on this form.
    """
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if path.endswith("/") or path.startswith("/"):
        path = path.strip("/")
    return path


def _record(req: Request) -> Record:
    """The record a KV write sets (``request.data.data``); an empty one if it has none."""
    data = req.data
    r = data.data if data is not None else None
    return NO_RECORD if r is None else r


def _int(value: int | str, default: int) -> int:
    """An integer field: digits in a string are read as the number (``entry.Int``); anything else the default."""
    if type(value) is int:
        return value
    if value.isdigit():  # type: ignore[union-attr]
        return int(value)
    return default


def request_fields(data: dict[str, Any]) -> tuple[str, ...]:
    """What an admin write set, as far as the log tells: field names (Vault HMACs string values), with the value
    of a number or boolean (``max_versions=20``), the length of a list (``audit_non_hmac_request_keys[49]``) and
    the members of an object (``options.version``); ``=lists`` when all the lists given are the same list."""
    out: list[str] = []
    lists: list[object] = []
    for key, value in list(data.items())[:64]:
        if not isinstance(key, str):
            continue
        if isinstance(value, bool):
            out.append(f"{key}={'true' if value else 'false'}")
        elif isinstance(value, int | float):
            out.append(f"{key}={value}")
        elif isinstance(value, list):
            out.append(f"{key}[{len(value)}]")
            lists.append(value)
        elif isinstance(value, dict):
            out.extend(f"{key}.{sub}" for sub in list(value)[:64] if isinstance(sub, str))
        else:
            out.append(key)
    if len(lists) > 1 and all(v == lists[0] for v in lists):
        out.append("=lists")
    return tuple(sorted(out))


class Extractor:
    """Turns one decoded audit entry into at most one fact, for a given mount and service AppRole role."""

    def __init__(self, mount: str = "custody-kv", service_role: str = "custody-service") -> None:
        self.mount = norm_path(mount)
        self.prefix = self.mount + "/"
        self.ui_mount = "sys/internal/ui/mounts/" + self.mount
        self.ui_prefix = self.ui_mount + "/"
        self.data_prefix = self.prefix + "data/"
        self.reveals_prefix = self.data_prefix + "reveals/"
        self.config = self.prefix + "config"
        self.admin_paths = (f"sys/mounts/{self.mount}", f"sys/mounts/{self.mount}/tune")
        self.service_role = service_role
        # Values repeat across facts (event names, accounts, principals, a grant's reason in each of its
        # writes): keeping one copy of each keeps memory proportional to the distinct values, not the entries.
        # The caches start afresh past CACHE_MAX entries, so they stay small whatever the log.
        self._strs: dict[str, str] = {}
        self._whos: dict[tuple[str, str], Who] = {}
        self._apps: dict[DecisionTuple, DecisionTuple] = {}
        self._pols: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._auths: dict[bytes, Auth] = {}
        self._last_raw, self._last_auth, self._last_service = msgspec.Raw(), NO_AUTH, False
        # What the fold in C (``_fold.grant``) needs to do what ``grant_parts`` and ``Partial._add_grant_write`` do:
        # the same shared copies (cleared in place by ``forget``), the same tuples and constants.
        self.fold_state = (
            self._strs, self._whos, self._apps, NO_RECORD, NO_DECISION, Who, GrantInfo, GrantEntry, HANDED_OUT,
            REVEAL_FAILED, HMAC, BLAKE8,
        )

    def forget(self) -> None:
        """Drop the shared copies (a long log has ever more distinct grant ids, tokens and times)."""
        self._strs.clear()
        self._whos.clear()
        self._apps.clear()
        self._pols.clear()

    def _w(self, entity: str, name: str) -> Who:
        key = (entity, name)
        who = self._whos.get(key)
        if who is None:
            i = self._strs.setdefault
            who = self._whos[key] = _new(Who, (i(entity, entity), i(name, name)))
        return who

    def _decision(self, by: str, entity: str, at: str, comment: str) -> DecisionTuple:
        t = (by, entity, at, comment)
        got = self._apps.get(t)
        if got is None:
            i = self._strs.setdefault
            got = self._apps[t] = (i(by, by), i(entity, entity), i(at, at), i(comment, comment))
        return got

    def _approvals(self, approvals: tuple[Approved, ...]) -> tuple[DecisionTuple, ...]:
        if not approvals:
            return ()
        d = self._decision
        return tuple([d(a.approver, a.approver_entity, a.at, a.comment) for a in approvals])

    def _denial(self, d: Denied | None) -> DecisionTuple:
        return NO_DECISION if d is None else self._decision(d.denied_by, d.denied_by_entity, d.at, d.comment)

    def _review(self, d: Reviewed | None) -> DecisionTuple:
        return NO_DECISION if d is None else self._decision(d.reviewed_by, d.reviewed_by_entity, d.at, d.comment)

    def auth_of(self, raw: Any) -> Auth:
        """The ``auth`` object of an entry, from its bytes: decoded once per distinct token (the service's token
        writes the same bytes in every entry it makes)."""
        if raw == self._last_raw:
            return self._last_auth
        if not raw:
            return NO_AUTH
        key = bytes(raw)
        auth = self._auths.get(key)
        if auth is None:
            auth = decode(key, Auth) or NO_AUTH
            if len(self._auths) >= AUTHS_MAX:
                self._auths.clear()
            self._auths[key] = auth
        self._last_raw, self._last_auth, self._last_service = msgspec.Raw(key), auth, self.is_service(auth)
        return auth

    def is_service(self, auth: Auth) -> bool:
        meta = auth.metadata
        return auth.display_name == "approle" and meta is not None and meta.role_name == self.service_role

    def fact(self, e: Entry, req: Request, time: str, line: Any) -> Fact | None:
        """The fact an entry holds, if any: ``req`` is its request, ``time`` its normalised time, ``line`` the line
        it was decoded from (a buffer)."""
        rid = req.id
        if not rid:
            return None
        raw_path = req.path
        path = norm_path(raw_path)  # for every comparison; the anomaly shows the path as logged
        rank = RESPONSE if e.type == "response" else REQUEST
        raw = e.auth
        if raw == self._last_raw:  # the service's token writes the same auth object in every entry it makes
            auth, service = self._last_auth, self._last_service
        else:
            auth = self.auth_of(raw)
            service = self.is_service(auth)
        if len(self._strs) > CACHE_MAX:
            self.forget()
        if service and path.startswith(STAGED):  # the service's own cubbyhole (anyone has one)
            return self._service(e, req, path, rank, time, rid, auth)
        if path.startswith(self.prefix) or path == self.mount:
            if service:
                return self._service(e, req, path, rank, time, rid, auth)
            fields_of = line if path == self.config else None
            return self._touch(e, req, raw_path, rank, time, rid, auth, MOUNT, "", fields_of)
        if path in (UNWRAP, REWRAP) or (path == CUBBYHOLE and req.operation == "read"):
            return self._unwrap(e, req, path, rank, time, rid, auth)
        if path == "sys/raw" or path.startswith("sys/raw/"):
            # raw storage: any mount's data, decrypted, whatever the policies on the mount (root only)
            return self._touch(e, req, raw_path, rank, time, rid, auth, RAW)
        if (path.startswith(self.ui_prefix) or path == self.ui_mount) and "permission denied" in e.error:
            # `bao kv get custody-kv/...` first asks sys/internal/ui/mounts/<path>; a token without access is
            # refused there and never reaches the mount itself. A granted preflight is followed by the real access,
            # which is counted on its own.
            return self._touch(e, req, raw_path, rank, time, rid, auth, MOUNT)
        op = req.operation
        if path in self.admin_paths and op != "read":
            return self._touch(e, req, raw_path, rank, time, rid, auth, ADMIN, "", line)
        if path == "sys/remount" or (path.startswith("sys/remount/") and op != "read"):
            # Every move of a mount: Vault HMACs request.data.from and .to, so the log cannot say which mount.
            data = req.data
            src, dst = (data.src, data.to) if data is not None else ("", "")
            clear = src and dst and not src.startswith(HMAC) and not dst.startswith(HMAC)
            note = f"from {src} to {dst}" if clear else ""
            return self._touch(e, req, raw_path, rank, time, rid, auth, ADMIN, note)
        return None

    def plain_write(self, e: Entry, req: Request) -> str:
        """The path below ``<mount>/data/`` of the service's successful write of a record, when ``e`` plainly is
        one (a response entry, no error, a request id, a path as Vault routes it); "" for anything else.

        Most custody lines are such writes, and the summary keeps little of one: an entry of its grant's timeline
        (``grant_parts``), or an account's code count (``codes_parts``). Reading those two here, without the
        ``Write`` fact ``fact`` makes of the same entry (by way of ``_service`` and ``_write``), is a third of the
        reading's time. Every other entry, and any write that is not plainly one, is left to ``fact``."""
        if e.error or e.type != "response" or e.auth != self._last_raw or not self._last_service:
            return ""
        path = req.path
        op = req.operation
        if (
            not path.startswith(self.data_prefix)
            or (op != "update" and op != "create")
            or not req.id
            or "//" in path
            or path.endswith("/")
        ):
            return ""
        if len(self._strs) > CACHE_MAX:
            self.forget()
        return path[len(self.data_prefix) :]

    def grant_parts(self, req: Request, rel: str) -> tuple[str, Who, GrantState]:
        """The event, actor and record of a grant write ``plain_write`` found (``rel``: ``grants/<id>``)."""
        r = _record(req)
        i = self._strs.setdefault
        return i(r.event, r.event), self._w(r.actor_entity, r.actor), self._grant(r, rel[len("grants/") :])

    def codes_parts(self, req: Request) -> tuple[str, str, int]:
        """The event, account (as the record states it) and code count (-1: not stated) of a code-set write."""
        r = _record(req)
        i = self._strs.setdefault
        return i(r.event, r.event), i(r.account, r.account), _int(r.remaining, -1)

    def _who(self, auth: Auth) -> Who:
        return self._w(auth.entity_id, auth.display_name)

    def _touch(
        self,
        e: Entry,
        req: Request,
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: Auth,
        area: str,
        note: str = "",
        fields_of: Any = None,
    ) -> Touch:
        """``fields_of``: the line, when the touch is an admin write whose fields are listed."""
        policies = tuple(sorted(auth.policies))
        fields = request_fields(request_data(fields_of)) if fields_of is not None else ()
        i = self._strs.setdefault
        return _new(Touch, (
            rank,
            time,
            rid,
            i(path, path),
            i(req.operation, req.operation),
            self._who(auth),
            self._pols.setdefault(policies, policies),
            i(e.error, e.error),
            i(req.remote_address, req.remote_address),
            area,
            i(note, note),
            self._pols.setdefault(fields, fields),
        ))

    def _unwrap(
        self, e: Entry, req: Request, path: str, rank: int, time: str, rid: str, auth: Auth
    ) -> UnwrapAttempt | None:
        """An unwrap, a rewrap, or a read of ``cubbyhole/response``: all give the wrapped response to the caller.

        ``cubbyhole/response`` is read with the wrapping token itself as the client token (the old way to unwrap);
        its ``auth`` then describes the wrapping token (the service's display name, no identity), not a person.
        """
        token = auth.client_token or req.client_token
        wrap = req.data.token if path != CUBBYHOLE and req.data is not None else ""
        self_unwrap = not wrap
        if self_unwrap:
            wrap = token  # the wrapping token was presented as the client token
        if not wrap:
            return None
        who = NOBODY if self_unwrap else self._who(auth)
        new_wrap = ""
        if path == REWRAP and e.response is not None and e.response.wrap_info is not None:
            new_wrap = e.response.wrap_info.token
        error = e.error
        i = self._strs.setdefault
        # the caller's token HMAC only traces a failed attempt (it names nobody): not kept for the others
        return _new(UnwrapAttempt, (
            rank,
            time,
            rid,
            i(wrap, wrap),
            who,
            self_unwrap,
            token if error else "",
            not error,
            i(error, error),
            i(req.remote_address, req.remote_address),
            UNWRAP if path == UNWRAP else REWRAP if path == REWRAP else CUBBYHOLE,
            i(new_wrap, new_wrap),
        ))

    def _service(self, e: Entry, req: Request, path: str, rank: int, time: str, rid: str, auth: Auth) -> Fact | None:
        op = req.operation
        if op in ("create", "update") and path.startswith(self.data_prefix):
            rel = path[len(self.data_prefix) :]
            if rel.startswith("reveals/"):
                return None  # the service staging the code it is about to hand out: the wrapped read counts
            return self._write(req, rel, rank, time, rid, e.error)
        if op == "read" and rank == RESPONSE and not e.error:
            staged = STAGED if path.startswith(STAGED) else self.reveals_prefix  # now the cubbyhole; KV before
            if not path.startswith(staged):
                return None
            wrap_info = e.response.wrap_info if e.response is not None else None
            if wrap_info is not None and wrap_info.token:
                i = self._strs.setdefault
                grant_id = path[len(staged) :]
                return _new(Handout, (
                    rank,
                    time,
                    rid,
                    i(grant_id, grant_id),
                    i(wrap_info.token, wrap_info.token),
                    min(max(_int(wrap_info.ttl, 0), 0), MAX_TTL),
                    self._who(auth),
                    wrap_info.accessor,
                ))
        return None

    def _write(self, req: Request, rel: str, rank: int, time: str, rid: str, error: str) -> Write:
        r = _record(req)
        kind = rel.split("/", 1)[0]
        i = self._strs.setdefault
        # Only the fields each kind of record carries: fewer lookups on the hottest path.
        grant = self._grant(r, rel[len("grants/") :]) if kind == "grants" else None
        if kind == "accounts":
            owner, tier, required = i(r.owner, r.owner), i(r.tier, r.tier), _int(r.approvals_required, 0)
        else:
            owner, tier, required = "", "", 0
        denied = kind == "denied"
        return _new(Write, (
            rank,
            time,
            rid,
            rel,
            not error,
            i(r.event, r.event),
            self._w(r.actor_entity, r.actor),
            grant[3][0] if grant is not None else i(r.account, r.account),  # grant.info.account
            grant,
            _int(r.remaining, -1) if kind == "codes" else -1,
            owner,
            tier,
            required,
            r.path if denied else "",
            i(r.capability, r.capability) if denied else "",
        ))

    def _grant(self, r: Record, grant_id: str) -> GrantState:
        # Interned: what the timeline keeps per write (status) or shares between grants (accounts, people).
        i = self._strs.setdefault
        emergency = r.emergency
        info = _new(GrantInfo, (
            i(r.account, r.account),
            self._w(r.requester_entity, r.requester),
            r.reason,
            r.ticket,
            emergency is True or emergency == "true",
            i(r.reviewed_by, r.reviewed_by),
            NO_DECISION if r.denial is None else self._denial(r.denial),
            NO_DECISION if r.review is None else self._review(r.review),
            i(r.drill, r.drill),
        ))
        attempt = r.reveal_attempt
        number, accessor = (_int(attempt.number, 0), attempt.accessor) if attempt is not None else (0, "")
        return _new(GrantState, (
            r.grant_id or grant_id, i(r.status, r.status), self._approvals(r.approvals), info, number, accessor
        ))
