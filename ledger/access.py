"""Who may see what: the ledger's read rules, in one place.

- The log itself (tiles, entry bundles, checkpoints) is public: it holds envelopes, whose
  payloads are only salted commitments. An envelope does show its author, kind, id and
  time; operators who must hide even that run a log per confidentiality domain.
- A *public* record (envelope, receipt) can be read by anyone, a *private* one only by its
  author, the operator and regulators; to everyone else a private record answers exactly
  as a missing one (``NotFound`` with the same message).
- A payload (and its salt) can be read only by the record's author, the operator and
  regulators, whatever the record's visibility — except that its author may *disclose*
  it to named participants (a supplier's footprint to its customers, who need it for
  their roll-up), and that a public record of a kind whose payloads are public
  (``Kind.public_payload``: a published footprint) shows its payload to everyone.
- A record disclosed to a participant is visible to it like a public one.
- A payload can be erased by its author or the operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import Forbidden, NotFound
from ledger.store.values import StoredEntry

VISIBILITIES = ("public", "private")
#: Roles that may read every record and payload.
PRIVILEGED_ROLES = frozenset({"operator", "regulator"})


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller: an address with its roles, or anonymous (``address`` None)."""

    address: str | None
    roles: frozenset[str] = frozenset()

    @property
    def is_privileged(self) -> bool:
        return not self.roles.isdisjoint(PRIVILEGED_ROLES)


ANONYMOUS = Viewer(None)


def missing(record_id: str) -> NotFound:
    """The one answer for a record that does not exist or may not be seen."""
    return NotFound(f"no record {record_id!r}")


def can_see_record(entry: StoredEntry, viewer: Viewer, *, disclosed: bool = False) -> bool:
    return entry.visibility == "public" or disclosed or viewer.is_privileged or viewer.address == entry.author


def check_can_see_record(entry: StoredEntry, viewer: Viewer, *, disclosed: bool = False) -> None:
    if not can_see_record(entry, viewer, disclosed=disclosed):
        raise missing(entry.record_id)


def can_see_payload(entry: StoredEntry, viewer: Viewer, *, public_payload: bool = False, disclosed: bool = False) -> bool:
    """``public_payload``: the record's kind publishes payloads of public records;
    ``disclosed``: the author disclosed this record to the viewer."""
    if viewer.is_privileged or disclosed or (viewer.address is not None and viewer.address == entry.author):
        return True
    return public_payload and entry.visibility == "public"


def check_can_disclose(entry: StoredEntry, viewer: Viewer) -> None:
    """Only the author discloses (call after the viewer was found to see the record)."""
    if viewer.address != entry.author:
        raise Forbidden(f"only the author {entry.author} may disclose record {entry.record_id!r}")


def check_can_revoke_token(holder: str, viewer: Viewer) -> None:
    if "operator" in viewer.roles or viewer.address == holder:
        return
    raise Forbidden(f"a token of {holder} can only be revoked by its holder or the operator")


def check_can_erase(entry: StoredEntry, viewer: Viewer) -> None:
    check_can_see_record(entry, viewer)
    if "operator" in viewer.roles or viewer.address == entry.author:
        return
    raise Forbidden(f"only the author {entry.author} or the operator may erase record {entry.record_id!r}")
