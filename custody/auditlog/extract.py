"""From one parsed audit entry to at most one fact (``facts``), for a given mount and service AppRole role."""

from __future__ import annotations

import re
from typing import Any

from custody.auditlog.facts import (
    ADMIN,
    CUBBYHOLE,
    HMAC,
    MAX_TTL,
    MOUNT,
    NO_DECISION,
    RAW,
    REQUEST,
    RESPONSE,
    REWRAP,
    UNWRAP,
    Decision,
    Fact,
    GrantState,
    Handout,
    Touch,
    UnwrapAttempt,
    Who,
    Write,
)
from custody.auditlog.timeparse import norm_time

CACHE_MAX = 20_000  # distinct strings an Extractor shares before it starts afresh
STAGED = "cubbyhole/reveals/"  # where the service stages a code to wrap it (its own token's cubbyhole)
_SLASHES = re.compile("/{2,}")


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


def _s(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object, default: int = -1) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
    """Turns one parsed audit entry into at most one fact, for a given mount and service AppRole role."""

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
        self._apps: dict[Decision, Decision] = {}
        self._pols: dict[tuple[str, ...], tuple[str, ...]] = {}

    def forget(self) -> None:
        """Drop the shared copies (a long log has ever more distinct grant ids, tokens and times)."""
        self._strs.clear()
        self._whos.clear()
        self._apps.clear()
        self._pols.clear()

    def _i(self, value: object) -> str:
        return self._strs.setdefault(value, value) if type(value) is str else ""

    def _w(self, entity: object, name: object) -> Who:
        key = (self._i(entity), self._i(name))
        who = self._whos.get(key)
        if who is None:
            who = self._whos[key] = Who(*key)
        return who

    def _decision(self, d: object, who: str) -> Decision:
        if not isinstance(d, dict):
            return NO_DECISION
        i = self._i
        t = (i(d.get(who)), i(d.get(f"{who}_entity")), i(d.get("at")), i(d.get("comment")))
        return self._apps.setdefault(t, t)

    def _grant(self, data: dict[str, Any], grant_id: str) -> GrantState:
        i = self._i
        approvals: list[Decision] = []
        raw = data.get("approvals")
        if isinstance(raw, list):
            approvals = [self._decision(a, "approver") for a in raw if isinstance(a, dict)]
        emergency = data.get("emergency")
        return GrantState(
            grant_id=i(data.get("grant_id")) or i(grant_id),
            account=i(data.get("account")),
            requester=self._w(data.get("requester_entity"), data.get("requester")),
            reason=i(data.get("reason")),
            ticket=i(data.get("ticket")),
            status=i(data.get("status")),
            approvals=tuple(approvals),
            emergency=emergency is True or emergency == "true",
            reviewed_by=i(data.get("reviewed_by")),
            denial=self._decision(data.get("denial"), "denied_by"),
            review=self._decision(data.get("review"), "reviewed_by"),
            drill=i(data.get("drill")),
        )

    def is_service(self, auth: dict[str, Any]) -> bool:
        meta = auth.get("metadata")
        return (
            auth.get("display_name") == "approle"
            and isinstance(meta, dict)
            and meta.get("role_name") == self.service_role
        )

    def fact(self, e: dict[str, Any], time: str | None = None) -> Fact | None:
        """The fact an entry holds, if any; ``time`` is the entry's normalised time when already known."""
        req = e.get("request")
        if not isinstance(req, dict):
            return None
        raw_path = req.get("path")
        rid = req.get("id")
        if not isinstance(raw_path, str) or not isinstance(rid, str) or not rid:
            return None
        path = norm_path(raw_path)  # for every comparison; the anomaly shows the path as logged
        rank = RESPONSE if e.get("type") == "response" else REQUEST
        if time is None:
            time = norm_time(e.get("time"))
        auth = _d(e.get("auth"))
        error = _s(e.get("error"))
        if len(self._strs) > CACHE_MAX:
            self.forget()
        if path.startswith(STAGED) and self.is_service(auth):  # the service's own cubbyhole (anyone has one)
            return self._service(e, req, path, rank, time, rid, auth, error)
        if path.startswith(self.prefix) or path == self.mount:
            if self.is_service(auth):
                return self._service(e, req, path, rank, time, rid, auth, error)
            return self._touch(req, raw_path, rank, time, rid, auth, error, MOUNT, "", path == self.config)
        if path in (UNWRAP, REWRAP) or (path == CUBBYHOLE and req.get("operation") == "read"):
            return self._unwrap(e, req, path, rank, time, rid, auth, error)
        if path == "sys/raw" or path.startswith("sys/raw/"):
            # raw storage: any mount's data, decrypted, whatever the policies on the mount (root only)
            return self._touch(req, raw_path, rank, time, rid, auth, error, RAW)
        if (path.startswith(self.ui_prefix) or path == self.ui_mount) and "permission denied" in error:
            # `bao kv get custody-kv/...` first asks sys/internal/ui/mounts/<path>; a token without access is
            # refused there and never reaches the mount itself. A granted preflight is followed by the real access,
            # which is counted on its own.
            return self._touch(req, raw_path, rank, time, rid, auth, error, MOUNT)
        op = req.get("operation")
        if path in self.admin_paths and op != "read":
            return self._touch(req, raw_path, rank, time, rid, auth, error, ADMIN, "", True)
        if path == "sys/remount" or (path.startswith("sys/remount/") and op != "read"):
            # Every move of a mount: Vault HMACs request.data.from and .to, so the log cannot say which mount.
            data = _d(req.get("data"))
            src, dst = _s(data.get("from")), _s(data.get("to"))
            clear = src and dst and not src.startswith(HMAC) and not dst.startswith(HMAC)
            note = f"from {src} to {dst}" if clear else ""
            return self._touch(req, raw_path, rank, time, rid, auth, error, ADMIN, note)
        return None

    def _who(self, auth: dict[str, Any]) -> Who:
        return self._w(auth.get("entity_id"), auth.get("display_name"))

    def _touch(
        self,
        req: dict[str, Any],
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: dict[str, Any],
        error: str,
        area: str,
        note: str = "",
        with_fields: bool = False,
    ) -> Touch:
        pol = auth.get("policies")
        policies = tuple(sorted(p for p in pol if isinstance(p, str))) if isinstance(pol, list) else ()
        fields = request_fields(_d(req.get("data"))) if with_fields else ()
        return Touch(
            rank,
            time,
            rid,
            self._i(path),
            self._i(req.get("operation")),
            self._who(auth),
            self._pols.setdefault(policies, policies),
            self._i(error),
            self._i(req.get("remote_address")),
            area,
            self._i(note),
            self._pols.setdefault(fields, fields),
        )

    def _unwrap(
        self,
        e: dict[str, Any],
        req: dict[str, Any],
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: dict[str, Any],
        error: str,
    ) -> UnwrapAttempt | None:
        """An unwrap, a rewrap, or a read of ``cubbyhole/response``: all give the wrapped response to the caller.

        ``cubbyhole/response`` is read with the wrapping token itself as the client token (the old way to unwrap);
        its ``auth`` then describes the wrapping token (the service's display name, no identity), not a person.
        """
        token = _s(auth.get("client_token")) or _s(req.get("client_token"))
        wrap = "" if path == CUBBYHOLE else self._i(_d(req.get("data")).get("token"))
        self_unwrap = not wrap
        if self_unwrap:
            wrap = token  # the wrapping token was presented as the client token
        if not wrap:
            return None
        who = self._w("", "") if self_unwrap else self._who(auth)
        new_wrap = self._i(_d(_d(e.get("response")).get("wrap_info")).get("token")) if path == REWRAP else ""
        # the caller's token HMAC only traces a failed attempt (it names nobody): not kept for the others
        return UnwrapAttempt(
            rank,
            time,
            rid,
            wrap,
            who,
            self_unwrap,
            token if error else "",
            not error,
            self._i(error),
            self._i(req.get("remote_address")),
            UNWRAP if path == UNWRAP else REWRAP if path == REWRAP else CUBBYHOLE,
            new_wrap,
        )

    def _service(
        self,
        e: dict[str, Any],
        req: dict[str, Any],
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: dict[str, Any],
        error: str,
    ) -> Fact | None:
        op = req.get("operation")
        if op in ("create", "update") and path.startswith(self.data_prefix):
            rel = path[len(self.data_prefix) :]
            if rel.startswith("reveals/"):
                return None  # the service staging the code it is about to hand out: the wrapped read counts
            return self._write(req, rel, rank, time, rid, error)
        staged = STAGED if path.startswith(STAGED) else self.reveals_prefix  # now the cubbyhole; KV before
        if op == "read" and path.startswith(staged) and rank == RESPONSE and not error:
            wrap_info = _d(_d(e.get("response")).get("wrap_info"))
            wrap = self._i(wrap_info.get("token"))
            if wrap:
                return Handout(
                    rank,
                    time,
                    rid,
                    self._i(path[len(staged) :]),
                    wrap,
                    min(max(_int(wrap_info.get("ttl"), 0), 0), MAX_TTL),
                    self._who(auth),
                )
        return None

    def _write(self, req: dict[str, Any], rel: str, rank: int, time: str, rid: str, error: str) -> Write:
        data = _d(_d(req.get("data")).get("data"))
        kind = rel.split("/", 1)[0]
        # Only the fields each kind of record carries: fewer lookups on the hottest path.
        grant = self._grant(data, rel[len("grants/") :]) if kind == "grants" else None
        acct = kind == "accounts"
        denied = kind == "denied"
        return Write(
            rank,
            time,
            rid,
            rel,
            not error,
            self._i(data.get("event")),
            self._w(data.get("actor_entity"), data.get("actor")),
            grant.account if grant is not None else self._i(data.get("account")),
            grant,
            _int(data.get("remaining")) if kind == "codes" else -1,
            self._i(data.get("owner")) if acct else "",
            self._i(data.get("tier")) if acct else "",
            _int(data.get("approvals_required"), 0) if acct else 0,
            _s(data.get("path")) if denied else "",
            self._i(data.get("capability")) if denied else "",
        )
