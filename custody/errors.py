"""One error hierarchy for the whole service.

Every error carries an HTTP status (for the API), a message that is safe to show (it never holds a code, token or
secret_id) and a hint that tells the user what to do next. Only the CLI and the API turn them into exit codes or
answers.
"""

from __future__ import annotations


class CustodyError(Exception):
    """Base class: a problem the user can act on."""

    status: int = 400
    code: str = "bad_request"
    retryable: bool = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The message, and what to do about it."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ValidationError(CustodyError):
    status = 400
    code = "invalid"


class NotFound(CustodyError):
    status = 404
    code = "not_found"


class UnknownAccount(NotFound):
    """No account has this id. ``account_id`` says which, so that the answer can suggest a close one."""

    def __init__(self, account_id: str, hint: str | None = "see `custody accounts list`") -> None:
        super().__init__(f"unknown account {account_id}", hint=hint)
        self.account_id = account_id


class Conflict(CustodyError):
    status = 409
    code = "conflict"


class PreconditionFailed(CustodyError):
    """The request is well-formed, but the state does not allow it (e.g. grant already revealed)."""

    status = 412
    code = "precondition_failed"


class Exhausted(PreconditionFailed):
    code = "exhausted"


class CodesChanged(PreconditionFailed):
    """The account's code set was replaced or rotated after the grant was approved."""

    code = "codes_changed"


class TooMany(CustodyError):
    """The caller already holds as many of something as the deployment allows (open grants, emergency grants not
    yet reviewed): a later try succeeds once some of them are used, closed or reviewed."""

    status = 429
    code = "too_many"


class AuthError(CustodyError):
    """The caller's token is missing, invalid or expired."""

    status = 403
    code = "unauthenticated"


class PermissionDenied(CustodyError):
    status = 403
    code = "permission_denied"


class StoreError(CustodyError):
    """Vault/OpenBao is unreachable, sealed or answered something unexpected."""

    status = 503
    code = "vault_unavailable"
    retryable = True


class CasConflict(StoreError):
    """A check-and-set write lost a race; the caller retries with fresh state."""

    status = 409
    code = "cas_conflict"
