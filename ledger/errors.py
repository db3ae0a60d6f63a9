"""The one error tree of TDS Ledger.

Every error the library raises on purpose is a ``LedgerError``. Errors about bad input
are also ``ValueError`` so callers that only know the builtins still catch them. The
API maps each class to one HTTP status in a single handler (``api/errors.py``).
Messages say what was expected and what was got.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error TDS Ledger raises on purpose."""


# -- verification -----------------------------------------------------------------


class VerificationError(LedgerError):
    """Something that was meant to prove a fact does not prove it."""


class InvalidProof(VerificationError):
    """A Merkle proof does not lead to the expected root.

    Carries both roots so a caller can log what went wrong.
    """

    def __init__(self, message: str, *, expected: bytes | None = None, calculated: bytes | None = None):
        super().__init__(message)
        self.expected = expected
        self.calculated = calculated


class InvalidSignature(VerificationError):
    """A signature is malformed, not canonical, or not made by the claimed signer."""


class InconsistentTreeHead(VerificationError):
    """Two tree heads cannot both be views of one append-only log."""


# -- input ------------------------------------------------------------------------


class MalformedInput(LedgerError, ValueError):
    """Bytes or values that cannot be parsed into the expected shape."""


class MalformedJSON(MalformedInput):
    """Not strict JSON: syntax, duplicate keys, NaN/Infinity, nesting or number limits."""


class MalformedEnvelope(MalformedInput):
    """A record envelope with a missing, extra or ill-typed field."""


class MalformedCheckpoint(MalformedInput):
    """A checkpoint or signed note that does not follow C2SP tlog-checkpoint / signed-note."""


class MalformedReceipt(MalformedInput):
    """A receipt document that does not follow ``tds-ledger/receipt@1``."""


class MalformedTilePath(MalformedInput):
    """A tile or entry-bundle path that is not a C2SP tlog-tiles path."""


class InvalidRecord(LedgerError, ValueError):
    """A well-formed record that fails admission; the message says which rule."""


class PayloadTooLarge(MalformedInput):
    """A body or payload over the documented size limit."""


# -- state ------------------------------------------------------------------------


class NotFound(LedgerError):
    """No such thing (or not visible to the caller: the two answer alike)."""


class Conflict(LedgerError):
    """The request contradicts what is already stored (e.g. same id, other content)."""


class StaleState(Conflict):
    """Another writer changed a derived state that admission relied on (compare-and-swap
    failed under the write lock); admitting the records again, against the new state,
    is safe and is what ``Ledger.submit`` does."""


class Unauthorized(LedgerError):
    """No valid credential was presented."""


class TokenExpired(Unauthorized):
    """An access token that was valid but has expired (OAuth2 client credentials)."""


class Forbidden(LedgerError):
    """The caller is known but may not do this."""


class CorruptStore(LedgerError):
    """The stored log contradicts itself (an entry, tile or checkpoint was altered or lost)."""


class SealerHalted(CorruptStore):
    """The sealer found the stored tree inconsistent with its last checkpoint and stopped.

    It never signs a fork: an operator must investigate before sealing resumes.
    """


class Unavailable(LedgerError):
    """The ledger cannot take this request now (it is shutting down); the same request may
    be sent again later."""


class AnchorError(LedgerError):
    """Anchoring on chain failed; raised ``from`` the underlying web3 exception."""


class RemoteError(LedgerError):
    """A ledger server the CLI called could not be reached or answered with an error."""


class ConfigError(LedgerError):
    """The ledger's configuration or data directory is missing or inconsistent."""
