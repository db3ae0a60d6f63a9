"""``verify_bundle``: every check of DESIGN §11 on an audit bundle, streaming.

It trusts the bundle for nothing. The log's identity (origin, chain id, registry contract,
note key, operator) is the verifier's own; the chain is read through an ``AnchorReader``
the caller opened (``--rpc`` or ``--chain-db``). In the order the lines stream:

1. **identity**: the header names the verifier's origin, chain and contract;
2. **heads**: every checkpoint note is signed by the log's note key for this origin; the
   chain holds its root at its size (``rootAt``), in the claimed block, on the canonical
   chain; start and end are final; the start's block time is at or before ``since`` (or
   the range starts at leaf 0) and the end's at or after ``until``: the range covers the
   period by the chain's clock;
3. **frontier**: it hashes to the start checkpoint's root;
4. **context**: each record before the range carries an inclusion proof against the end
   checkpoint;
5. **range**: every envelope's leaf hash is appended to the frontier in order; at each
   head's size the root must be that head's, and the last must be the end root: no leaf
   of the range is missing, added, reordered or altered;
6. **records**: each envelope names this log and its EIP-712 signature recovers its
   author (spread over ``jobs`` processes); each carried payload matches its commitment;
   a record the scope selects by its envelope (kind, author, agreement parent) from the
   period's first leaf on, or one that would change the state of a carried record, that
   comes without its payload is a failure (withheld), an erased one a finding;
7. **time**: an ``issued_at`` after the anchor block that covers its entry (plus the
   ledger's clock skew), or more than ``max_backdate`` before the previous entry's, is a
   backdating finding;
8. **derived state** (``ledger.bundle_state``): the records with payloads are replayed in
   log order through the kinds' own admission checks: access verdicts (a violation is
   reported as such), duties (overdue), late reports, footprint roll-ups and statuses,
   passport scorecards and statuses. A record the replay would refuse is a finding; a
   state the ledger reports that differs from the recomputation is a finding.

Findings name record id, leaf index, expected and found (``ledger.bundle_report``).
Memory: the range check itself is O(log n), but the verifier keeps a small record per leaf
and every carried payload for the replay: about 3 KiB per entry (301 MiB at 10^5 in
``scripts/bench/audit_bundle.py``), so a bundle of 10^6 entries needs some 3 GiB.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

from ledger import merkle
from ledger.admission import MAX_CLOCK_SKEW
from ledger.bundle import BundleHeader, ContextLine, EntryLine, HeadLine, Record, Trailer, read_bundle, z_time
from ledger.bundle_report import BundleReport, Finding, Head, KindCount, Severity, timeline
from ledger.bundle_state import BundleEntry, StateJudge
from ledger.checkpoint import NoteVerifier, verify_checkpoint
from ledger.envelope import Domain, Envelope, commitment_of, parse_issued_at, verify_envelope
from ledger.errors import InvalidProof, LedgerError, MalformedInput, VerificationError
from ledger.frontier import RangeChecker
from ledger.verify import AnchorReader, FoundAnchor

MAX_BACKDATE = timedelta(days=1)
_SIG_CHUNK = 2048


@dataclass(frozen=True, slots=True)
class VerifierIdentity:
    """The log as the verifier knows it (its identity.json), never as the bundle says."""

    origin: str
    chain_id: int
    contract: str
    note_key: str
    operator: str


class BundleFailed(VerificationError):
    """The bundle cannot be checked further (another log, a broken range start); the report so far is attached."""

    def __init__(self, message: str, report: BundleReport):
        super().__init__(message)
        self.report = report


def _check_signatures(domain: Domain, items: list[tuple[int, bytes]]) -> list[tuple[int, str]]:
    """(leaf index, why) for each envelope whose signature does not verify. Runs in a worker process."""
    bad = []
    for i, raw in items:
        try:
            verify_envelope(Envelope.from_json(raw), domain)
        except (LedgerError, ValueError) as e:
            bad.append((i, str(e)))
    return bad


class _Signatures:
    """EIP-712 recovery in chunks, over worker processes when ``jobs > 1``."""

    def __init__(self, domain: Domain, jobs: int):
        self.domain, self.pending, self.done = domain, [], []
        self.chunk: list[tuple[int, bytes]] = []
        # ``jobs`` processes in all: this one (reading, hashing, replaying) and jobs - 1 recovering
        # signatures; on 2 cores one worker beside the busy reader beat two (scripts/bench/audit_bundle.py).
        # forkserver: the CLI's progress bar runs a thread, and forking a threaded process can deadlock;
        # the server imports this module once, not each worker.
        self.pool = None
        if jobs > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ledger.bundle_verify"])
            self.pool = ProcessPoolExecutor(jobs - 1, mp_context=context)
        self.futures: list[Future] = []

    def add(self, leaf_index: int, envelope: bytes) -> None:
        self.chunk.append((leaf_index, envelope))
        if len(self.chunk) >= _SIG_CHUNK:
            self._flush()

    def _flush(self) -> None:
        chunk, self.chunk = self.chunk, []
        if not chunk:
            return
        if self.pool is None:
            self.done += _check_signatures(self.domain, chunk)
            return
        self.futures.append(self.pool.submit(_check_signatures, self.domain, chunk))
        while len(self.futures) > 4 * (self.pool._max_workers or 1):  # bound what is in flight
            self.done += self.futures.pop(0).result()

    def results(self) -> list[tuple[int, str]]:
        self._flush()
        for f in self.futures:
            self.done += f.result()
        self.futures = []
        if self.pool is not None:
            self.pool.shutdown()
        return sorted(self.done)

    def cancel(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


class _Verifier:
    def __init__(self, identity: VerifierIdentity, reader: AnchorReader, *, max_backdate: timedelta, jobs: int,
                 progress: Callable[[int, int], None] | None):  # fmt: skip
        self.identity, self.reader, self.max_backdate = identity, reader, max_backdate
        self.note = NoteVerifier.from_text(identity.note_key)
        self.domain = Domain(chain_id=identity.chain_id, verifying_contract=identity.contract)
        self.jobs, self.progress = jobs, progress
        self.findings: list[Finding] = []
        self.state = StateJudge(identity.operator, self.add)
        self.kinds: Counter[str] = Counter()
        self.kinds_scope: Counter[str] = Counter()
        self.agreement_leaf: bytes | None = None
        self.times: list[tuple[datetime, int]] = []  # issued_at, leaf index of range records (for the timeline)
        self.end_time: datetime | None = None  # the end anchor's block time: duties are judged as of then
        self.scope_start = 0  # the first leaf the period's records can be at (set from the heads)

    def add(self, severity: Severity, check: str, message: str, e: BundleEntry | None = None, *, leaf: int | None = None,
            expected: str | None = None, found: str | None = None) -> None:  # fmt: skip
        self.findings.append(Finding(
            severity, check, message, None if e is None else e.record_id, leaf if e is None else e.leaf_index,
            None if e is None else e.kind, expected, found, None if e is None else e.issued_at,
        ))  # fmt: skip


def verify_bundle(
    data: IO[bytes], *, identity: VerifierIdentity, reader: AnchorReader, name: str = "bundle",
    max_backdate: timedelta = MAX_BACKDATE, jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None, now: datetime | None = None,
) -> BundleReport:
    """Check the bundle read from ``data`` (as ``ledger.bundle.open_bundle`` returns it).

    Returns the report; raises ``MalformedBundle`` for a file that is not a well-formed
    bundle, and ``BundleFailed`` (with the report so far) when the bundle is of another
    log. ``progress(done, total)`` is called as entries stream.
    """
    hashing = _HashingReader(data)
    lines = read_bundle(hashing)  # type: ignore[arg-type]
    header = next(lines)
    assert isinstance(header, BundleHeader)
    v = _Verifier(identity, reader, max_backdate=max_backdate,
                  jobs=(os.cpu_count() or 1) if jobs is None else jobs, progress=progress)  # fmt: skip
    report = BundleReport(
        bundle=name, bundle_sha256="", origin=header.origin, chain_id=header.chain_id, contract=header.contract,
        since=z_time(header.since), until=z_time(header.until), scope=header.scope.to_json(),
        start=Head(header.start, ""), end=Head(header.end, ""), entries=header.entries,
        context=header.context, verified_at=z_time(now or datetime.now(UTC)),
    )  # fmt: skip
    theirs = (header.origin, header.chain_id, header.contract.lower())
    ours = (identity.origin, identity.chain_id, identity.contract.lower())
    if theirs != ours:
        v.add(Severity.FAILURE, "identity", "the bundle is for another log than the identity given",
              expected=f"origin {ours[0]}, chain {ours[1]}, contract {ours[2]}",
              found=f"origin {theirs[0]}, chain {theirs[1]}, contract {theirs[2]}")  # fmt: skip
        report.findings = v.findings
        raise BundleFailed(f"the bundle is for log {header.origin!r} (chain {header.chain_id}, contract "
                           f"{header.contract}), not {identity.origin!r} as the identity says", report)  # fmt: skip
    heads = _check_heads(v, header, lines, report)
    checker = _start_range(v, header, heads, report)
    sigs = _Signatures(v.domain, v.jobs)
    try:
        trailer = _stream_records(v, header, lines, heads, checker, sigs, report)
        bad = sigs.results()
        for leaf, why in bad:
            e = v.state.entries.get(leaf)
            v.add(Severity.FAILURE, "signature", f"the envelope's signature does not verify: {why}", e, leaf=leaf)
        kept = v.state.entries
        report.checks.append(f"{len(kept) - len(bad)} of {len(kept)} envelope signatures (EIP-712, this log's "
                             "domain) recover their authors")  # fmt: skip
        carried = sum(1 for e in kept.values() if e.carried)
        report.checks.append(f"{carried} payload(s) match their signed commitments")
    except BaseException:
        sigs.cancel()
        raise
    report.bundle_sha256 = hashing.hexdigest()
    report.checks.append(f"bundle read to its trailer: {trailer.lines} lines, digest matches")
    v.state.judge(report, v.end_time)
    report.kinds = _kind_counts(v)
    violating = {f.leaf_index for f in v.findings if f.severity == Severity.VIOLATION and f.leaf_index is not None}
    report.timeline = timeline(header.since, header.until, v.times, violating)
    report.findings = v.findings
    return report


class _HashingReader:
    """The bundle file's SHA-256 as it streams (the report names the file it checked)."""

    def __init__(self, data: IO[bytes]):
        self.data, self.sha = data, hashlib.sha256()

    def readline(self, limit: int = -1) -> bytes:
        chunk = self.data.readline(limit)
        self.sha.update(chunk)
        return chunk

    def read(self, n: int = -1) -> bytes:
        chunk = self.data.read(n)
        self.sha.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


@dataclass(frozen=True, slots=True)
class _Head:
    tree_size: int
    root: bytes
    found: FoundAnchor | None


def _check_heads(v: _Verifier, header: BundleHeader, lines, report: BundleReport) -> list[_Head]:
    heads: list[_Head] = []
    for _ in range(header.heads):
        line = next(lines)
        assert isinstance(line, HeadLine)
        heads.append(_check_head(v, line))
    by_size = {h.tree_size: h for h in heads}
    start, end = by_size[header.start], by_size[header.end]
    for which, h in (("start", start), ("end", end)):
        f = h.found
        setattr(report, which, Head(h.tree_size, h.root.hex(), None if f is None else f.block_number,
                                    None if f is None else f.block_hash, None if f is None else f.timestamp,
                                    h.tree_size == 0 or (f is not None and f.final)))  # fmt: skip
        if h.tree_size and f is not None and not f.final:
            v.add(Severity.FAILURE, "anchor", f"the {which} checkpoint (tree size {h.tree_size}) is anchored in block "
                  f"{f.block_number} but not final", expected="final", found=f"{f.confirmations} confirmations")  # fmt: skip
    if header.start and start.found is not None and start.found.timestamp > header.since.timestamp():
        v.add(Severity.FAILURE, "period", "the range starts after the period does: entries logged between the "
              "period's start and the start checkpoint's anchor may be missing",
              expected=f"start anchored at or before {z_time(header.since)}",
              found=f"anchored at {_when(start.found.timestamp)} (block {start.found.block_number})")  # fmt: skip
    if end.found is not None:
        v.end_time = datetime.fromtimestamp(end.found.timestamp, UTC)
    if end.found is not None and end.found.timestamp < header.until.timestamp():
        v.add(Severity.FAILURE, "period", "the range ends before the period does: entries logged after the end "
              "checkpoint's anchor and before the period's end are not in the bundle",
              expected=f"end anchored at or after {z_time(header.until)}",
              found=f"anchored at {_when(end.found.timestamp)} (block {end.found.block_number})")  # fmt: skip
    report.checks.append(f"{len(heads)} checkpoint(s) signed by the log's note key and anchored on chain "
                         f"{v.identity.chain_id} at {v.identity.contract}")  # fmt: skip
    # The period's records lie from the last anchor at or before `since` on (by the chain's
    # clock); the range may start earlier, to carry the history of what they depend on.
    v.scope_start = max([h.tree_size for h in heads if h.found is not None and h.found.timestamp <= header.since.timestamp()]
                        + [header.start])  # fmt: skip
    if v.scope_start > header.start:
        report.checks.append(f"the period's records are from leaf {v.scope_start} (the last anchor at or before its "
                             f"start); leaves {header.start}..{v.scope_start - 1} carry the history of what they "
                             "depend on, proven complete by the range")  # fmt: skip
    return heads


def _check_head(v: _Verifier, line: HeadLine) -> _Head:
    if line.tree_size == 0:
        return _Head(0, merkle.EMPTY_ROOT, None)
    where = f"checkpoint of tree size {line.tree_size}"
    try:
        cp = verify_checkpoint(line.checkpoint or "", v.note, origin=v.identity.origin)
    except (LedgerError, ValueError) as e:
        v.add(Severity.FAILURE, "checkpoint", f"the {where}: its note does not verify: {e}", leaf=line.tree_size)
        return _Head(line.tree_size, b"", None)
    if cp.tree_size != line.tree_size:
        v.add(Severity.FAILURE, "checkpoint", f"the {where}: its note is of another tree size", leaf=line.tree_size,
              expected=str(line.tree_size), found=str(cp.tree_size))  # fmt: skip
        return _Head(line.tree_size, b"", None)
    try:
        found = v.reader.find_head(v.identity.origin, cp.tree_size, cp.root_hash)
    except VerificationError as e:
        v.add(Severity.FAILURE, "anchor", f"the {where}: {e}", leaf=line.tree_size)
        return _Head(cp.tree_size, cp.root_hash, None)
    claim = line.anchor
    assert claim is not None
    if found is None:
        v.add(Severity.FAILURE, "anchor", f"the {where} is not anchored: the chain holds no head at that size",
              leaf=line.tree_size, expected=f"block {claim.block_number}", found="no anchor")  # fmt: skip
    elif (found.block_number, found.block_hash) != (claim.block_number, claim.block_hash.lower()):
        v.add(Severity.FAILURE, "anchor", f"the {where} is anchored elsewhere than the bundle says", leaf=line.tree_size,
              expected=f"block {claim.block_number} {claim.block_hash}",
              found=f"block {found.block_number} {found.block_hash}")  # fmt: skip
    return _Head(cp.tree_size, cp.root_hash, found)


def _start_range(v: _Verifier, header: BundleHeader, heads: list[_Head], report: BundleReport) -> RangeChecker | None:
    by_size = {h.tree_size: h for h in heads}
    start, end = by_size[header.start], by_size[header.end]
    if not end.root or (header.start and not start.root):
        v.add(Severity.FAILURE, "range", "the range cannot be checked: a checkpoint at its start or end does not verify")
        return None
    try:
        checker = RangeChecker(start=header.start, start_root=start.root, frontier=header.frontier, end=header.end,
                               end_root=end.root)  # fmt: skip
    except InvalidProof as e:
        v.add(Severity.FAILURE, "frontier", str(e), leaf=header.start,
              expected=None if e.expected is None else e.expected.hex(),
              found=None if e.calculated is None else e.calculated.hex())  # fmt: skip
        return None
    report.checks.append(f"the frontier of tree size {header.start} hashes to the start checkpoint's root")
    return checker


def _parse(v: _Verifier, r: Record, *, in_range: bool) -> tuple[BundleEntry, Envelope] | None:
    try:
        env = Envelope.from_json(r.envelope)
    except MalformedInput as e:
        v.add(Severity.FAILURE, "envelope", f"the envelope does not parse: {e}", leaf=r.leaf_index)
        return None
    e = BundleEntry(r.leaf_index, env.id, env.kind, env.author, env.issued_at, merkle.leaf_hash(r.envelope), in_range,
               False, r.payload is not None, r.erased, r.state)  # fmt: skip
    if env.log != v.identity.origin:
        v.add(Severity.FAILURE, "envelope", "the record is for another log", e, expected=v.identity.origin, found=env.log)
    if r.payload is not None and commitment_of(r.payload, r.salt or b"") != env.commitment:
        v.add(Severity.FAILURE, "commitment", "the payload and salt do not match the signed commitment", e,
              expected=env.commitment, found=commitment_of(r.payload, r.salt or b""))  # fmt: skip
        e.carried = False  # a payload that is not the signed one is not replayed
    return e, env


def _stream_records(v: _Verifier, header: BundleHeader, lines, heads: list[_Head], checker: RangeChecker | None,
                    sigs: _Signatures, report: BundleReport) -> Trailer:  # fmt: skip
    end_root = {h.tree_size: h for h in heads}[header.end].root
    for _ in range(header.context):
        line = next(lines)
        assert isinstance(line, ContextLine)
        parsed = _parse(v, line.record, in_range=False)
        if parsed is None:
            continue
        e, env = parsed
        try:
            merkle.verify_inclusion(e.leaf_hash, e.leaf_index, header.end, line.proof, end_root)
        except (VerificationError, ValueError) as err:
            v.add(Severity.FAILURE, "inclusion", f"the context record is not in the end checkpoint's tree: {err}", e)
        sigs.add(e.leaf_index, line.record.envelope)
        if header.scope.agreement is not None and env.id == header.scope.agreement:
            v.agreement_leaf = e.leaf_hash  # the scope's agreement, concluded before the range
        v.state.step(e, env, line.record)
    if header.context:
        report.checks.append(f"{header.context} record(s) before the range checked by inclusion proofs against the end "
                             "checkpoint")  # fmt: skip
        v.add(Severity.NOTICE, "context", f"{header.context} record(s) before the range came as context lines: their "
              "content is proven, but not that no other record before the range changed their state (an earlier "
              "event under an agreement, a revocation, a newer version); the verdicts and statuses that depend on "
              "them rest on the ledger there. A bundle exported without context proofs carries that history in its "
              "range.")  # fmt: skip
    pending = [h for h in heads if header.start < h.tree_size < header.end]
    covering = [h for h in heads if h.tree_size > header.start]
    cover = 0
    scope = header.scope
    previous: datetime | None = None
    if scope.product is not None:
        v.add(Severity.NOTICE, "scope", "the product filter is applied by the ledger from payloads: the verifier checks "
              "the records it was given but cannot prove that no other record of the product was left out of scope")  # fmt: skip
    for i in range(header.start, header.end):
        line = next(lines)
        assert isinstance(line, EntryLine)
        r = line.record
        leaf_hash = merkle.leaf_hash(r.envelope)
        if checker is not None:
            checker.add(leaf_hash)
            if pending and pending[0].tree_size == i + 1:
                h = pending.pop(0)
                if h.root and checker.root() != h.root:
                    v.add(Severity.FAILURE, "range", f"the range's leaves up to {i + 1} do not lead to the root of the "
                          f"checkpoint of that size", leaf=i, expected=h.root.hex(), found=checker.root().hex())  # fmt: skip
        while cover < len(covering) - 1 and covering[cover].tree_size <= i:
            cover += 1
        if v.progress is not None and (i - header.start) % 1000 == 0:
            v.progress(i - header.start, header.entries)
        parsed = _parse(v, r, in_range=True)
        if parsed is None:
            continue
        e, env = parsed
        sigs.add(i, r.envelope)
        v.kinds[e.kind] += 1
        if scope.agreement is not None and env.id == scope.agreement:
            v.agreement_leaf = e.leaf_hash
        e.in_scope = i >= v.scope_start and _in_scope(v, scope, env, e)
        if not e.carried and not r.erased:
            v.state.check_not_withheld(e, env)
        if e.in_scope:
            v.kinds_scope[e.kind] += 1
            if not e.carried and not r.erased and scope.product is None:
                v.add(Severity.FAILURE, "scope", "the record is in the bundle's scope but its payload is not in the bundle "
                      "(withheld)", e, expected="payload and salt", found="envelope only")  # fmt: skip
        if r.erased:
            v.add(Severity.FINDING, "erased", "the record's payload was erased by the ledger; its content cannot be "
                  "checked", e)  # fmt: skip
        issued = parse_issued_at(e.issued_at)
        v.times.append((issued, i))
        _check_time(v, e, issued, previous, covering[cover] if covering else None)
        previous = issued
        v.state.step(e, env, r)
    if v.progress is not None:
        v.progress(header.entries, header.entries)
    if scope.agreement is not None and v.agreement_leaf is None:
        v.add(Severity.FAILURE, "scope", f"the scope's agreement {scope.agreement} is not in the bundle: which records "
              "are under it cannot be checked", expected="the agreement as an entry or a context record", found="none")  # fmt: skip
    if checker is not None:
        try:
            checker.finish()
            report.checks.append(f"the range's {header.entries} leaves, appended to the frontier, lead to the end "
                                 "checkpoint's root: none missing, added, reordered or altered")  # fmt: skip
        except InvalidProof as err:
            v.add(Severity.FAILURE, "range", str(err), leaf=header.end,
                  expected=None if err.expected is None else err.expected.hex(),
                  found=None if err.calculated is None else err.calculated.hex())  # fmt: skip
    report.in_scope = sum(v.kinds_scope.values())
    trailer = next(lines)
    assert isinstance(trailer, Trailer)
    return trailer


def _in_scope(v: _Verifier, scope, env: Envelope, e: BundleEntry) -> bool:
    """Whether the scope selects the record as far as its envelope shows (see the module docstring)."""
    if scope.kind is not None and env.kind != scope.kind:
        return False
    if scope.participant is not None and env.author.lower() != scope.participant:
        return e.carried  # another party's record about the participant: the ledger's index put it in scope
    if scope.agreement is not None and env.id != scope.agreement:
        if v.agreement_leaf is None or v.agreement_leaf.hex() not in env.parents:
            return False
    if scope.product is not None:
        return e.carried
    return True


def _check_time(v: _Verifier, e: BundleEntry, issued: datetime, previous: datetime | None, cover: _Head | None) -> None:
    if cover is not None and cover.found is not None:
        anchored = datetime.fromtimestamp(cover.found.timestamp, UTC)
        if issued > anchored + MAX_CLOCK_SKEW:
            v.add(Severity.FINDING, "backdating", f"issued_at is after the anchor that covers its entry (checkpoint "
                  f"{cover.tree_size}, block {cover.found.block_number}): the record claims a time it cannot have had",
                  e, expected=f"at or before {_when(cover.found.timestamp)}", found=e.issued_at)  # fmt: skip
    if previous is not None and issued < previous - v.max_backdate:
        v.add(Severity.FINDING, "backdating", f"issued_at is more than {v.max_backdate.total_seconds() / 3600:g} h before the previous "
              "entry's",
              e, expected=f"at or after {z_time(previous - v.max_backdate)}", found=e.issued_at)  # fmt: skip


def _kind_counts(v: _Verifier) -> list[KindCount]:
    states = v.state.states
    recomputed: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    for idx, e in v.state.entries.items():
        if e.in_range and idx in states:
            recomputed[e.kind] += 1
    for f in v.findings:
        if f.severity == Severity.VIOLATION and f.kind:
            violations[f.kind] += 1
    return [KindCount(k, n, v.kinds_scope[k], recomputed[k], violations[k]) for k, n in sorted(v.kinds.items())]


def _when(timestamp: int) -> str:
    return z_time(datetime.fromtimestamp(timestamp, UTC))
