"""The ledger's core operations on one log: admit and append, seal, read and query,
receipts, lineage, disclosure, erasure. ``Ledger`` is the one way in for the API and the
CLI: neither reaches into the store.

Admission of a record, in order (the first failure is the answer; a batch is atomic;
``ledger.admission`` does it):

1. the envelope names this log (``log`` = the origin);
2. the kind is known;
3. the EIP-712 signature is valid for this log's domain and recovers the author;
4. ``issued_at`` is not more than ``MAX_CLOCK_SKEW`` in the future;
5. payload and salt are present and match the envelope's commitment;
6. the author is a registered participant whose roles allow the kind (the operator
   may author any kind);
7. the payload parses as the kind's typed model;
8. every parent is an earlier entry of this log (or earlier in the same batch), and
   the records the kind refers to by id are looked up;
9. the kind's admission check passes, seeing parents and references as typed records
   (payloads where the ledger holds them and the author may read them; derived state);
10. its effects (index terms, typed edges, derived state) are appended with the entry.

Sealing makes a C2SP checkpoint of the current tree. Before it signs, it checks that the
new tree is a consistent extension of the last checkpoint (a consistency proof computed
from the stored tiles) and that every entry added since hashes to its stored leaf hash;
any mismatch raises ``SealerHalted`` and nothing is signed: the sealer never signs a fork.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ledger import merkle
from ledger.access import (
    ANONYMOUS,
    Viewer,
    can_see_payload,
    check_can_disclose,
    check_can_erase,
    check_can_revoke_token,
    check_can_see_record,
    missing,
)
from ledger.admission import MAX_CLOCK_SKEW, MAX_ENVELOPE_BYTES, BatchAdmission, ModelCache, epoch_us
from ledger.audit import AuditReport, audit_log
from ledger.canonical import canonicalize, parse_json
from ledger.derive import EffectsReport, audit_effects, recompute
from ledger.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    sign_checkpoint,
)
from ledger.effects import DerivedState, Term, term_value
from ledger.envelope import Domain, Envelope
from ledger.errors import (
    Conflict,
    CorruptStore,
    InvalidRecord,
    LedgerError,
    MalformedInput,
    NotFound,
    SealerHalted,
    StaleState,
    TokenExpired,
    Unauthorized,
    VerificationError,
)
from ledger.kinds import KINDS
from ledger.merkle import HASH_SIZE
from ledger.receipt import Anchor, Receipt
from ledger.store import (
    Appended,
    LogInfo,
    NewEntry,
    ParticipantInfo,
    SQLStore,
    StoredAnchor,
    StoredCheckpoint,
    StoredEntry,
)
from ledger.submission import Submission
from ledger.tiles import TILE_WIDTH
from ledger.views import RecordQuery, RecordView, z_time

if TYPE_CHECKING:
    from ledger.lineage import LineageGraph

__all__ = ["MAX_BATCH", "MAX_CLOCK_SKEW", "MAX_ENVELOPE_BYTES", "Ledger", "RecordQuery", "RecordView", "Submission"]

MAX_BATCH = 1000
TOKEN_PREFIX = "tdsl_"
#: Admissions of one batch, and whole-group admissions of a group commit, tried when
#: another writer changed a derived state the batch relied on (``StaleState``): many
#: writers appending events under one agreement all change its event count.
STALE_RETRIES, GROUP_STALE_RETRIES = 200, 3


def _back_off(attempt: int) -> None:
    """A short random sleep before admitting again, longer as attempts mount (writers
    racing on one state otherwise retry in lockstep)."""
    time.sleep(secrets.randbelow(1000) * 1e-6 * min(attempt + 1, 20))


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
        self.models = ModelCache()  # typed payloads of parents, parsed once

    # -- admission and append ----------------------------------------------------

    def submit(self, submissions: Sequence[Submission], *, now: datetime | None = None) -> list[Appended]:
        """Admit and append a batch atomically (all or nothing). Durable once returned.

        A record already stored with the same envelope, payload and salt is answered as a
        duplicate even where its kind's rules no longer hold for it (a component deprecated
        since): admission is tried first, and only a refusal looks for the stored record.
        """
        if len(submissions) > MAX_BATCH:
            raise InvalidRecord(f"a batch holds at most {MAX_BATCH} records, got {len(submissions)}")
        subs = list(submissions)
        for attempt in range(STALE_RETRIES):
            admission = BatchAdmission(self.store, self.log, self.domain, self.models, now or datetime.now(UTC), subs)
            try:
                return self.store.append(self.log.id, [self._admit(admission, i, sub) for i, sub in enumerate(subs)])
            except StaleState:
                if attempt == STALE_RETRIES - 1:
                    raise
                _back_off(attempt)
        raise AssertionError("unreachable")

    def submit_each(self, submissions: Sequence[Submission], *, now: datetime | None = None) -> list[Appended | Exception]:
        """Admit each record on its own and append all admitted ones in one transaction
        (group commit, ``api.group_commit``): the outcome of each, in order, is its
        ``Appended`` or the error that refused it (a ``LedgerError``; any other exception
        is a bug in admission, kept to that record); one refusal never fails another
        record. Every ``Appended`` is durable once this returns.

        Each record is admitted as a batch of one would be (its errors name it as record
        0), seeing the records admitted before it in the group. If the store refuses the
        group as a whole (another writer changed a state admission relied on, or two
        records share an id), each record is submitted again on its own, in order, so the
        refusal lands only on the record it concerns. An error of the append that is not
        a ``LedgerError`` (the database is down) is raised: then nothing of the group was
        appended, unless it came during the record-by-record retry.
        """
        if len(submissions) > MAX_BATCH:
            raise InvalidRecord(f"a group holds at most {MAX_BATCH} records, got {len(submissions)}")
        subs = list(submissions)
        for attempt in range(GROUP_STALE_RETRIES + 1):
            admission = BatchAdmission(self.store, self.log, self.domain, self.models, now or datetime.now(UTC), subs)
            outcomes: list[Appended | Exception] = []
            admitted: list[tuple[int, NewEntry]] = []
            for i, sub in enumerate(subs):
                try:
                    admitted.append((i, self._admit(admission, 0, sub)))
                    outcomes.append(None)  # type: ignore[arg-type]  # filled in below
                except Exception as e:  # noqa: BLE001 - this record's outcome, not its neighbours'
                    outcomes.append(e)
            try:
                appended = self.store.append(self.log.id, [entry for _, entry in admitted])
                break
            except StaleState:
                if attempt < GROUP_STALE_RETRIES:  # admit the whole group again against the new states
                    _back_off(attempt)
                    continue
                appended = None
                break
            except LedgerError:
                appended = None
                break
        if appended is None:
            for i, _ in admitted:
                try:
                    [outcomes[i]] = self.submit([subs[i]], now=now)
                except LedgerError as e:
                    outcomes[i] = e
        else:
            for (i, _), a in zip(admitted, appended):
                outcomes[i] = a
        return outcomes

    def _admit(self, admission: BatchAdmission, i: int, sub: Submission) -> NewEntry:
        """``sub`` admitted as record ``i`` of the batch, or the stored duplicate's row; a
        refusal is raised as a ``LedgerError`` naming the record."""
        leaf_input = sub.envelope.to_bytes()
        try:
            entry = admission.admit(sub, leaf_input)
        except (LedgerError, ValueError) as e:
            prior = self._stored_duplicate(sub, leaf_input)
            if prior is not None:
                entry = self._again(prior)
            elif isinstance(e, LedgerError):
                raise _prefixed(i, sub.envelope.id, e) from None
            else:
                raise InvalidRecord(f"record {i} ({sub.envelope.id}): {e}") from None
        if entry.registers is not None:
            admission.authors[entry.registers.address] = entry.registers
        return entry

    def _stored_duplicate(self, sub: Submission, leaf_input: bytes) -> StoredEntry | None:
        """The stored entry with this very envelope, payload and salt, if there is one."""
        prior = self.store.entries_by_leaf_hash(self.log.id, [merkle.leaf_hash(leaf_input)])
        entry = next(iter(prior.values()), None)
        if entry is None or entry.salt != sub.salt:
            return None
        try:
            return entry if entry.payload == canonicalize(sub.payload) else None
        except ValueError:
            return None

    @staticmethod
    def _again(prior: StoredEntry) -> NewEntry:
        """The row of a record that is already stored: the store answers it as a duplicate."""
        return NewEntry(
            record_id=prior.record_id, kind=prior.kind, author=prior.author, issued_at=prior.issued_at,
            leaf_hash=prior.leaf_hash, envelope=prior.envelope, payload=prior.payload, salt=prior.salt,
            visibility=prior.visibility,
        )  # fmt: skip

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

    def audit_effects(self) -> EffectsReport:
        """Recompute every index term, edge and derived state from the log and compare them
        with the cached rows (``ledger.derive``); differences are findings, not exceptions."""
        return audit_effects(self.store, self.log.id, operator=self.log.operator)

    def rebuild_effects(self) -> EffectsReport:
        """Recompute every index term, edge and derived state from the log and replace the
        cached rows with them (a log from before they existed, or a repair after the audit
        named a difference). Returns what the replay reported."""
        r = recompute(self.store, self.log.id, operator=self.log.operator)
        self.store.replace_effects(self.log.id, r.terms, r.edges, r.states, datetime.now(UTC))
        self.log = self.store.get_log(self.origin)
        return EffectsReport(r.records, tuple(r.refused), tuple(r.unverifiable))

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

    def _disclosed(self, entry: StoredEntry, viewer: Viewer) -> bool:
        if viewer.address is None or viewer.address == entry.author or viewer.is_privileged:
            return False
        return bool(self.store.disclosed_to(self.log.id, [entry.leaf_index], viewer.address))

    def _view(self, entry: StoredEntry, viewer: Viewer, *, disclosed: bool,
              state: DerivedState | None, terms: tuple[Term, ...]) -> RecordView:  # fmt: skip
        kind = KINDS.get(entry.kind)
        public_payload = kind is not None and kind.public_payload
        visible = can_see_payload(entry, viewer, public_payload=public_payload, disclosed=disclosed)
        return RecordView(entry, Envelope.from_json(entry.envelope), visible, state, terms)

    def visible_entry(self, record_id: str, viewer: Viewer = ANONYMOUS) -> tuple[StoredEntry, bool]:
        """The stored entry if ``viewer`` may see it, and whether it was disclosed to them;
        else the one ``NotFound`` a missing record gives."""
        try:
            entry = self.store.entry_by_record_id(self.log.id, record_id)
        except NotFound:
            raise missing(record_id) from None
        disclosed = self._disclosed(entry, viewer)
        check_can_see_record(entry, viewer, disclosed=disclosed)
        return entry, disclosed

    def record(self, record_id: str, viewer: Viewer = ANONYMOUS) -> RecordView:
        entry, disclosed = self.visible_entry(record_id, viewer)
        state = self.store.states(self.log.id, [entry.leaf_index]).get(entry.leaf_index)
        terms = self.store.terms_of(self.log.id, [entry.leaf_index]).get(entry.leaf_index, ())
        return self._view(entry, viewer, disclosed=disclosed, state=state, terms=terms)

    def list_records(
        self, viewer: Viewer = ANONYMOUS, *, start: int = 0, limit: int = 100, query: RecordQuery = RecordQuery(),
    ) -> tuple[list[RecordView], int | None]:
        """Records the viewer may see that match ``query``, in log order from ``start``.

        Returns at most ``limit`` views and the index to continue from (None at the end).
        """
        q = query
        if q.since is not None and q.until is not None and q.since > q.until:
            raise MalformedInput(f"since ({z_time(q.since)}) is after until ({z_time(q.until)})")
        entries = self.store.list_entries(
            self.log.id, start=start, limit=limit, author=q.author, kind=q.kind,
            terms=tuple((name, term_value(name, value)) for name, value in q.terms),
            since_us=None if q.since is None else epoch_us(q.since),
            until_us=None if q.until is None else epoch_us(q.until),
            visible_to=... if viewer.is_privileged else viewer.address, status=q.status,
        )  # fmt: skip
        idxs = [e.leaf_index for e in entries]
        disclosed = set()
        if viewer.address is not None and not viewer.is_privileged:
            disclosed = self.store.disclosed_to(self.log.id, [e.leaf_index for e in entries if e.author != viewer.address],
                                                viewer.address)  # fmt: skip
        states = self.store.states(self.log.id, idxs)
        terms = self.store.terms_of(self.log.id, idxs)
        views = [
            self._view(e, viewer, disclosed=e.leaf_index in disclosed, state=states.get(e.leaf_index),
                       terms=terms.get(e.leaf_index, ()))  # fmt: skip
            for e in entries
        ]
        next_start = entries[-1].leaf_index + 1 if len(entries) == limit else None
        return views, next_start

    def receipt(self, record_id: str, viewer: Viewer = ANONYMOUS) -> Receipt:
        """The record's receipt, against the newest anchored checkpoint that covers it.

        Until one is anchored: against the newest checkpoint, with ``anchor: null`` (sealing
        first if none covers the record); asking again later returns the upgraded receipt.
        A ``final`` anchor is preferred to a merely ``mined`` one.
        """
        entry, disclosed = self.visible_entry(record_id, viewer)
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
        view = self._view(entry, viewer, disclosed=disclosed, state=None, terms=())
        show = view.payload_visible and entry.payload is not None
        return Receipt(
            entry=view.envelope,
            leaf_index=entry.leaf_index,
            tree_size=cp.tree_size,
            inclusion_proof=tuple(proof),
            checkpoint=cp.note,
            anchor=anchor,
            payload=parse_json(entry.payload) if show else None,
            salt=entry.salt if show else None,
        )

    def lineage(self, record_id: str, viewer: Viewer = ANONYMOUS, *, direction: str = "ancestors",
                depth: int = 16) -> "LineageGraph":  # fmt: skip
        """The graph of records ``record_id`` derives from and/or that derive from it (``ledger.lineage``)."""
        from ledger.lineage import lineage_graph

        entry, _ = self.visible_entry(record_id, viewer)
        return lineage_graph(self, entry, viewer, direction=direction, depth=depth)

    # -- disclosure ----------------------------------------------------------------

    def disclose(self, record_id: str, grantees: Sequence[str], viewer: Viewer) -> list[str]:
        """Let each grantee (a registered participant) read the record's payload; its author only.

        Returns everyone it is now disclosed to.
        """
        entry, _ = self.visible_entry(record_id, viewer)
        check_can_disclose(entry, viewer)
        for g in grantees:
            if g != self.log.operator and self.store.participant(self.log.id, g) is None:
                raise InvalidRecord(f"{g} is not a registered participant; a payload is disclosed to participants only")
        self.store.disclose(self.log.id, entry.leaf_index, grantees, datetime.now(UTC))
        return self.store.grantees(self.log.id, entry.leaf_index)

    def withdraw_disclosure(self, record_id: str, grantee: str, viewer: Viewer) -> list[str]:
        """End a disclosure (its author only); returns everyone it is still disclosed to."""
        entry, _ = self.visible_entry(record_id, viewer)
        check_can_disclose(entry, viewer)
        if not self.store.withdraw(self.log.id, entry.leaf_index, grantee):
            raise NotFound(f"record {record_id!r} is not disclosed to {grantee}")
        return self.store.grantees(self.log.id, entry.leaf_index)

    def disclosures(self, record_id: str, viewer: Viewer) -> list[str]:
        entry, _ = self.visible_entry(record_id, viewer)
        if viewer.address != entry.author and not viewer.is_privileged:
            raise missing(record_id)
        return self.store.grantees(self.log.id, entry.leaf_index)

    # -- the log as C2SP serves it, and the anchorer's rows ------------------------

    def tree_size(self) -> int:
        return self.store.tree_size(self.log.id)

    def checkpoint_or_none(self) -> StoredCheckpoint | None:
        return self.store.latest_checkpoint(self.log.id)

    def consistency_proof(self, size1: int, size2: int, *, fresh: bool = False) -> list[bytes]:
        return self.store.consistency_proof(self.log.id, size1, size2, fresh=fresh)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> tuple[bytes, list[bytes]]:
        """The leaf hash at ``leaf_index`` and its inclusion proof in the tree of ``tree_size``."""
        proof = self.store.inclusion_proof(self.log.id, leaf_index, tree_size)
        [(_, leaf_hash, _)] = self.store.leaf_data(self.log.id, leaf_index, leaf_index + 1)
        return leaf_hash, proof

    def envelopes(self, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
        """``(index, leaf_hash, envelope bytes)`` of the entries in ``[start, end)``."""
        return self.store.leaf_data(self.log.id, start, end)

    def tile(self, level: int, index: int) -> bytes | None:
        return self.store.tile(self.log.id, level, index)

    def root_at(self, tree_size: int, *, fresh: bool = False) -> bytes:
        return self.store.root_at(self.log.id, tree_size, fresh=fresh)

    def participants(self) -> list[ParticipantInfo]:
        return self.store.participants(self.log.id)

    def participant(self, address: str) -> ParticipantInfo | None:
        return self.store.participant(self.log.id, address)

    def anchors(self, *, status: str | None = None) -> list[StoredAnchor]:
        return self.store.anchors(self.log.id, status=status)

    def anchored_size(self) -> int:
        return self.store.anchored_size(self.log.id)

    def put_anchor(self, anchor: StoredAnchor) -> None:
        self.store.put_anchor(self.log.id, anchor)

    def try_lock_sealer(self):
        """The right to run this log's sealer and anchorer (``SQLStore.try_lock_sealer``), or None."""
        return self.store.try_lock_sealer(self.log.id)

    def purge(self) -> bool:
        """Finish removing erased bytes from the database files (``SQLStore.purge``)."""
        return self.store.purge()

    # -- erasure -----------------------------------------------------------------

    def erase(self, record_id: str, viewer: Viewer) -> StoredEntry:
        """Delete a record's payload and salt; the entry and every proof stay valid."""
        entry, _ = self.visible_entry(record_id, viewer)
        check_can_erase(entry, viewer)
        return self.store.erase_payload(self.log.id, record_id)

    # -- participants and tokens -------------------------------------------------

    def viewer_for(self, address: str) -> Viewer:
        if address == self.log.operator:
            return Viewer(address, frozenset({"operator"}))
        p = self.store.participant(self.log.id, address)
        return Viewer(address, p.roles if p is not None else frozenset())

    def issue_token(self, address: str, label: str = "", *, ttl: timedelta | None = None) -> str:
        """A new API token for ``address``; only its hash is stored. Shown once.

        ``ttl``: the token expires after it (an OAuth2 access token); None: until revoked.
        """
        if address != self.log.operator and self.store.participant(self.log.id, address) is None:
            raise NotFound(f"{address} is not a registered participant")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = None if ttl is None else datetime.now(UTC) + ttl
        self.store.add_token(self.log.id, hash_token(token), address, label, expires)
        return token

    def client_credentials(self, client_id: str, client_secret: str, *, ttl: timedelta) -> str:
        """OAuth2 client credentials: ``client_id`` is a participant's address and
        ``client_secret`` one of its long-lived API tokens; returns a new access token
        that expires after ``ttl``. Any mismatch is ``Unauthorized`` with one message."""
        found = self.store.token(hash_token(client_secret))
        ok = (
            found is not None and found[0] == self.log.id and found[1].revoked_at is None
            and found[1].expires_at is None and found[1].address.lower() == client_id.lower()
        )  # fmt: skip
        if not ok:
            raise Unauthorized("invalid client credentials")
        assert found is not None
        return self.issue_token(found[1].address, "oauth2 access token", ttl=ttl)

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
        info = found[1]
        if info.expires_at is not None and info.expires_at <= datetime.now(UTC):
            raise TokenExpired("the access token has expired")
        if info.address == self.log.operator:
            return Viewer(info.address, frozenset({"operator"}))
        return Viewer(info.address, info.holder_roles or frozenset())  # as viewer_for, from the same read
