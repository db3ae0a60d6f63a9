"""The ledger's core operations on one log: admit and append, seal, receipts, erasure.

Admission of a record, in order (the first failure is the answer; a batch is atomic):

1. the envelope names this log (``log`` = the origin);
2. the kind is known;
3. the EIP-712 signature is valid for this log's domain and recovers the author;
4. ``issued_at`` is not more than ``MAX_CLOCK_SKEW`` in the future;
5. payload and salt are present and match the envelope's commitment;
6. the author is a registered participant whose roles allow the kind (the operator
   may author any kind);
7. every parent is an earlier entry of this log (or earlier in the same batch);
8. the kind's own schema and admission check pass.

Sealing makes a C2SP checkpoint of the current tree. Before it signs, it checks that the
new tree is a consistent extension of the last checkpoint (a consistency proof computed
from the stored tiles) and that every entry added since hashes to its stored leaf hash;
any mismatch raises ``SealerHalted`` and nothing is signed: the sealer never signs a fork.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger import merkle
from ledger.access import (
    ANONYMOUS,
    VISIBILITIES,
    Viewer,
    can_see_payload,
    can_see_record,
    check_can_erase,
    check_can_revoke_token,
    check_can_see_record,
)
from ledger.audit import AuditReport, audit_log
from ledger.canonical import canonicalize, parse_json
from ledger.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    sign_checkpoint,
)
from ledger.envelope import (
    Domain,
    Envelope,
    commitment_of,
    verify_envelope,
)
from ledger.errors import (
    Conflict,
    CorruptStore,
    InvalidRecord,
    LedgerError,
    NotFound,
    SealerHalted,
    Unauthorized,
    VerificationError,
)
from ledger.kinds import AdmissionContext, get_kind
from ledger.merkle import HASH_SIZE
from ledger.receipt import Anchor, Receipt
from ledger.store import (
    Appended,
    LogInfo,
    NewEntry,
    ParticipantInfo,
    SQLStore,
    StoredCheckpoint,
    StoredEntry,
)
from ledger.submission import Submission
from ledger.tiles import TILE_WIDTH

MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_BATCH = 1000
#: C2SP entry bundles prefix each entry with a 16-bit length.
MAX_ENVELOPE_BYTES = 0xFFFF
TOKEN_PREFIX = "tdsl_"


@dataclass(frozen=True, slots=True)
class RecordView:
    """A stored record as one viewer may see it (payload only when allowed)."""

    entry: StoredEntry
    envelope: Envelope
    payload_visible: bool

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        out: dict[str, Any] = {
            "id": e.record_id,
            "kind": e.kind,
            "author": e.author,
            "leaf_index": e.leaf_index,
            "leaf_hash": e.leaf_hash.hex(),
            "visibility": e.visibility,
            "envelope": self.envelope.to_json(),
            "appended_at": e.appended_at.isoformat().replace("+00:00", "Z"),
            "erased_at": None if e.erased_at is None else e.erased_at.isoformat().replace("+00:00", "Z"),
        }
        if self.payload_visible and e.payload is not None:
            out["payload"] = parse_json(e.payload)
            out["salt"] = e.salt.hex() if e.salt is not None else None
        return out


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _prefixed(i: int, record_id: str, e: LedgerError) -> LedgerError:
    """The same error, its message prefixed with the record's place in the batch."""
    e.args = (f"record {i} ({record_id}): {e.args[0] if e.args else ''}",) + e.args[1:]
    return e


class Ledger:
    """One log on one store. Thread-safe; sealing needs the note signer."""

    def __init__(self, store: SQLStore, log: LogInfo, *, note_signer: NoteSigner | None = None):
        self.store = store
        self.log = log
        self.origin = log.origin
        self.domain = Domain(chain_id=log.chain_id, verifying_contract=log.contract)
        self.note_verifier = NoteVerifier.from_text(log.note_vkey)
        self.note_signer = note_signer

    # -- admission and append ----------------------------------------------------

    def submit(self, submissions: Sequence[Submission], *, now: datetime | None = None) -> list[Appended]:
        """Admit and append a batch atomically (all or nothing). Durable once returned."""
        if len(submissions) > MAX_BATCH:
            raise InvalidRecord(f"a batch holds at most {MAX_BATCH} records, got {len(submissions)}")
        now = now or datetime.now(UTC)
        authors: dict[str, ParticipantInfo | None] = {}
        parent_hashes = {bytes.fromhex(p) for s in submissions for p in s.envelope.parents}
        known_parents = self.store.entries_by_leaf_hash(self.log.id, parent_hashes) if parent_hashes else {}
        batch: list[NewEntry] = []
        for i, sub in enumerate(submissions):
            try:
                entry = self._admit(sub, now, authors, known_parents)
            except (LedgerError, ValueError) as e:
                if isinstance(e, LedgerError):
                    raise _prefixed(i, sub.envelope.id, e) from None
                raise InvalidRecord(f"record {i} ({sub.envelope.id}): {e}") from None
            batch.append(entry)
            if entry.registers is not None:
                authors[entry.registers.address] = entry.registers
        return self.store.append(self.log.id, batch)

    def _admit(
        self,
        sub: Submission,
        now: datetime,
        authors: dict[str, ParticipantInfo | None],
        known_parents: dict[bytes, StoredEntry],
    ) -> NewEntry:
        env = sub.envelope
        if env.log != self.origin:
            raise InvalidRecord(f"envelope is for log {env.log!r}, this log is {self.origin!r}")
        kind = get_kind(env.kind)
        if sub.visibility is not None and sub.visibility not in VISIBILITIES:
            raise InvalidRecord(f"visibility must be one of {VISIBILITIES}, got {sub.visibility!r}")
        verify_envelope(env, self.domain)
        issued = env.issued_at_datetime()
        if issued > now + MAX_CLOCK_SKEW:
            raise InvalidRecord(f"issued_at {env.issued_at} is in the future (now {now.isoformat()})")
        payload = canonicalize(sub.payload)  # the bytes stored, and the bytes committed to
        if commitment_of(payload, sub.salt) != env.commitment:
            raise InvalidRecord("payload and salt do not match the envelope's commitment")
        if env.author != self.log.operator:
            if env.author not in authors:
                authors[env.author] = self.store.participant(self.log.id, env.author)
            who = authors[env.author]
            if who is None:
                raise InvalidRecord(f"author {env.author} is not a registered participant of this log")
            if not kind.roles:
                raise InvalidRecord(f"only the log operator may author a {env.kind} record; author is {env.author}")
            if not who.roles & kind.roles:
                raise InvalidRecord(
                    f"author {env.author} has roles {sorted(who.roles)}; a {env.kind} needs one of {sorted(kind.roles)}"
                )
        parents = []
        for p in env.parents:
            parent = known_parents.get(bytes.fromhex(p))
            if parent is None:
                raise InvalidRecord(f"parent {p} is not an entry of this log")
            parents.append(parent)
        admitted = kind.admit(sub.payload, AdmissionContext(self.log.operator, env.author, tuple(parents)))
        leaf_input = env.to_bytes()
        if len(leaf_input) > MAX_ENVELOPE_BYTES:
            raise InvalidRecord(f"the envelope is {len(leaf_input)} bytes; at most {MAX_ENVELOPE_BYTES} fit a tile entry")
        leaf = merkle.leaf_hash(leaf_input)
        # Later records of the same batch may name this one as a parent.
        known_parents[leaf] = StoredEntry(
            -1, leaf, env.id, env.kind, env.author, env.issued_at, "", leaf_input, payload, sub.salt, None, now
        )
        return NewEntry(
            record_id=env.id,
            kind=env.kind,
            author=env.author,
            issued_at=env.issued_at,
            leaf_hash=leaf,
            envelope=leaf_input,
            payload=payload,
            salt=sub.salt,
            visibility=sub.visibility or kind.default_visibility,
            registers=admitted.registers,
        )

    # -- sealing -----------------------------------------------------------------

    def seal(self) -> StoredCheckpoint:
        """Sign a checkpoint of the current tree, after checking it extends the last one."""
        if self.note_signer is None:
            raise LedgerError("this ledger was opened without the note signing key; it cannot seal")
        size = self.store.tree_size(self.log.id)
        last = self.store.latest_checkpoint(self.log.id)
        if last is not None and last.tree_size == size:
            return last
        if last is not None and size < last.tree_size:
            raise SealerHalted(f"the log's size {size} is below its last checkpoint's {last.tree_size}; refusing to sign")
        try:
            root = self.store.root_at(self.log.id, size, fresh=True)
        except CorruptStore as e:  # a tile is missing or shorter than the tree needs
            raise SealerHalted(f"cannot compute the root of size {size} from the stored tiles: {e}; refusing to sign") from e
        if last is not None:
            self._check_extends(last, size, root)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self.note_signer)
        return self.store.add_checkpoint(self.log.id, size, root, note)

    def _check_extends(self, last: StoredCheckpoint, size: int, root: bytes) -> None:
        try:
            proof = self.store.consistency_proof(self.log.id, last.tree_size, size, fresh=True)
            merkle.verify_consistency(last.tree_size, size, last.root_hash, root, proof)
        except (VerificationError, CorruptStore, LookupError, ValueError) as e:
            raise SealerHalted(
                f"stored tree of size {size} does not extend checkpoint {last.tree_size}: {e}; refusing to sign"
            ) from e
        leaves = self.store.leaf_data(self.log.id, last.tree_size, size)
        if [i for i, _, _ in leaves] != list(range(last.tree_size, size)):
            raise SealerHalted(f"entries {last.tree_size}..{size - 1} are not all present; refusing to sign")
        level0 = self.store.get_tiles(
            self.log.id, {(0, i // TILE_WIDTH) for i in range(last.tree_size, size, TILE_WIDTH)} | {(0, (size - 1) // TILE_WIDTH)}
        )
        for i, stored, envelope in leaves:
            tile = level0.get((0, i // TILE_WIDTH), b"")
            in_tile = tile[(i % TILE_WIDTH) * HASH_SIZE : (i % TILE_WIDTH + 1) * HASH_SIZE]
            if not stored == in_tile == merkle.leaf_hash(envelope):
                raise SealerHalted(f"entry {i}: envelope, stored leaf hash and tile disagree; refusing to sign")

    def audit(self) -> AuditReport:
        """Re-verify every entry, tile and checkpoint (``ledger.audit``); raise ``CorruptStore``."""
        return audit_log(self.store, self.log.id, origin=self.origin, note_verifier=self.note_verifier)

    def unsealed(self) -> tuple[int, datetime | None]:
        """How many entries no checkpoint covers yet, and when the oldest was appended."""
        size = self.store.tree_size(self.log.id)
        last = self.store.latest_checkpoint(self.log.id)
        sealed = 0 if last is None else last.tree_size
        if size <= sealed:
            return 0, None
        oldest = self.store.entry_at(self.log.id, sealed).appended_at
        if oldest.tzinfo is None:  # SQLite hands back naive datetimes; the store writes UTC
            oldest = oldest.replace(tzinfo=UTC)
        return size - sealed, oldest

    def latest_checkpoint(self) -> StoredCheckpoint:
        cp = self.store.latest_checkpoint(self.log.id)
        if cp is None:
            raise NotFound("the log has no checkpoint yet")
        return cp

    # -- reading -----------------------------------------------------------------

    def record(self, record_id: str, viewer: Viewer = ANONYMOUS) -> RecordView:
        entry = self.store.entry_by_record_id(self.log.id, record_id)
        check_can_see_record(entry, viewer)
        return RecordView(entry, Envelope.from_json(entry.envelope), can_see_payload(entry, viewer))

    def list_records(
        self, viewer: Viewer = ANONYMOUS, *, start: int = 0, limit: int = 100,
        author: str | None = None, kind: str | None = None,
    ) -> tuple[list[RecordView], int | None]:
        """Records from ``start`` the viewer may see, scanning at most ``limit`` entries.

        Returns the views and the index to continue from (None when the scan reached the end).
        """
        entries = self.store.list_entries(self.log.id, start=start, limit=limit, author=author, kind=kind)
        views = [
            RecordView(e, Envelope.from_json(e.envelope), can_see_payload(e, viewer))
            for e in entries
            if can_see_record(e, viewer)
        ]
        next_start = entries[-1].leaf_index + 1 if len(entries) == limit else None
        return views, next_start

    def receipt(self, record_id: str, viewer: Viewer = ANONYMOUS) -> Receipt:
        """The record's receipt, against the newest anchored checkpoint that covers it.

        Until one is anchored: against the newest checkpoint, with ``anchor: null`` (sealing
        first if none covers the record); asking again later returns the upgraded receipt.
        A ``final`` anchor is preferred to a merely ``mined`` one.
        """
        entry = self.store.entry_by_record_id(self.log.id, record_id)
        check_can_see_record(entry, viewer)
        best = self.store.anchor_covering(self.log.id, entry.leaf_index)
        anchor = None
        if best is not None:
            cp = self.store.checkpoint_at(self.log.id, best.tree_size)
            anchor = Anchor(
                chain_id=best.chain_id, contract=best.contract, tx_hash=best.tx_hash,
                block_number=best.block_number or 0, block_hash=best.block_hash or "", status=best.status,
            )  # fmt: skip
        else:
            cp = self.store.latest_checkpoint(self.log.id)
            if cp is None or cp.tree_size <= entry.leaf_index:
                if self.note_signer is None:
                    raise Conflict(f"record {record_id!r} is not in a checkpoint yet; ask again after the next seal")
                cp = self.seal()
        proof = self.store.inclusion_proof(self.log.id, entry.leaf_index, cp.tree_size)
        show = can_see_payload(entry, viewer) and entry.payload is not None
        return Receipt(
            entry=Envelope.from_json(entry.envelope),
            leaf_index=entry.leaf_index,
            tree_size=cp.tree_size,
            inclusion_proof=tuple(proof),
            checkpoint=cp.note,
            anchor=anchor,
            payload=parse_json(entry.payload) if show else None,
            salt=entry.salt if show else None,
        )

    # -- erasure -----------------------------------------------------------------

    def erase(self, record_id: str, viewer: Viewer) -> StoredEntry:
        """Delete a record's payload and salt; the entry and every proof stay valid."""
        entry = self.store.entry_by_record_id(self.log.id, record_id)
        check_can_erase(entry, viewer)
        return self.store.erase_payload(self.log.id, record_id)

    # -- participants and tokens -------------------------------------------------

    def viewer_for(self, address: str) -> Viewer:
        if address == self.log.operator:
            return Viewer(address, frozenset({"operator"}))
        p = self.store.participant(self.log.id, address)
        return Viewer(address, p.roles if p is not None else frozenset())

    def issue_token(self, address: str, label: str = "") -> str:
        """A new API token for ``address``; only its hash is stored. Shown once."""
        if address != self.log.operator and self.store.participant(self.log.id, address) is None:
            raise NotFound(f"{address} is not a registered participant")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.add_token(self.log.id, hash_token(token), address, label)
        return token

    def revoke_token(self, token: str, viewer: Viewer) -> None:
        """Revoke an active token: its holder or the operator may."""
        found = self.store.token(hash_token(token))
        if found is None or found[0] != self.log.id or found[1].revoked_at is not None:
            raise NotFound("no such active token")
        check_can_revoke_token(found[1].address, viewer)
        self.store.revoke_token(hash_token(token))

    def authenticate(self, token: str) -> Viewer:
        found = self.store.token(hash_token(token))
        if found is None or found[0] != self.log.id or found[1].revoked_at is not None:
            raise Unauthorized("unknown or revoked API token")
        return self.viewer_for(found[1].address)
