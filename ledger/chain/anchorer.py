"""The anchorer: puts a log's latest checkpoint on the registry and survives chain faults.

An anchor row (DESIGN §5) goes ``submitted`` → ``mined`` → ``final``, or ends
``orphaned`` (a reorg removed it: ``ledger.chain.anchoring.confirm_anchors``) or
``failed`` (reverted, or replaced by another transaction with the same nonce).

``Anchorer.step()`` is one pass; the server's sealer loop runs it every poll, ``tdsl
anchor`` runs it until the checkpoint is mined. It never blocks on the chain beyond
single requests, so a node that is down only makes a step fail (the loop backs off and
tries again) and a later step carries on from the rows.

1. **Track the transaction in flight** (rows ``submitted``: one nonce, several rows when
   the fees were bumped). The account's mined nonce is read first, then each row's
   transaction:

   - one is mined → that row ``mined`` (``final`` on the embedded chain; ``failed`` if it
     reverted), the others ``failed`` (replaced);
   - none is mined but the nonce is used → all ``failed`` (the key sent something else
     with that nonce); step 2 learns from the chain's head what is anchored;
   - the newest is unknown to the node (dropped from its pool, lost in a node restart, or
     never sent because this process died right after writing it) → the same signed
     bytes are sent again (same hash, same nonce); if the node refuses them for their
     fee, they are replaced with bumped fees;
   - pending for ``stuck_seconds``, or offering a fee cap under the next block's base fee
     → replaced with fees raised by at least 12.5 % (``transactions.bumped``), never
     above ``max_fee_per_gas``.

   While a row is in flight nothing else is sent: one transaction in flight per key.
   If a reorg took back nonces below the one in flight, the orphaned anchors that held
   them are sent again as they were (``_fill_gap``).
2. **Anchor the latest checkpoint** when no mined or final row covers it. The registry's
   head for the log is read first (the chain, not our rows, says what is anchored); a head
   that is not a head of our tree stops the anchorer (``InconsistentTreeHead``). If the head
   already is the checkpoint — a reply lost, or a transaction our rows missed — the
   transaction is found from the registry's event and recorded, and nothing is sent.
   Otherwise ``anchor(...)`` is signed with the consistency proof from the head, the nonce
   the chain says is next (its ``latest`` count: nothing of ours is in flight) and the
   node's EIP-1559 fees; **the row is written ``submitted`` with the signed bytes before
   the transaction is broadcast**; then it is tracked once (an automining node, like the
   embedded chain, has mined it already).

Crash safety follows from the write-ahead: a process killed at any point leaves either a
row whose transaction the node never saw (sent again as is) or one it did (found in step
1). No second anchor of a checkpoint is signed while one is in flight, and none after one
landed, because step 2 reads the head first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ledger.chain.registry import AnchorTx, Registry, RegistryReverted, log_id
from ledger.chain.transactions import Fees, Sent, SignedTx, broadcast, bumped, lookup, next_base_fee, resigned
from ledger.chain.transactions import sign_call, suggest_fees
from ledger.errors import AnchorError, InconsistentTreeHead
from ledger.log import Ledger
from ledger.store import StoredAnchor

log = logging.getLogger("ledger.anchorer")

#: What ``on_event`` hears, with the row concerned: "written" (row stored, not yet sent),
#: "sent", "resent", "bumped" (a replacement written, not yet sent), "mined", "failed",
#: "recorded" (an anchor found on chain and recorded), "revived" (an orphaned anchor sent
#: again because later ones wait on its nonce).
Event = Callable[[str, StoredAnchor], None]


@dataclass(frozen=True, slots=True)
class AnchorPolicy:
    final_when_mined: bool  # the embedded chain: one node, no reorgs
    stuck_seconds: float = 60.0
    max_fee_per_gas: int | None = 500 * 10**9


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


class Anchorer:
    """Anchors the checkpoints of ``ledger`` with ``account`` on ``registry`` (one per log)."""

    def __init__(
        self, ledger: Ledger, registry: Registry, account, policy: AnchorPolicy, *,
        on_event: Event | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):  # fmt: skip
        if (registry.w3.eth.chain_id, registry.address) != (ledger.log.chain_id, ledger.log.contract):
            raise AnchorError(
                f"the registry is {registry.address} on chain {registry.w3.eth.chain_id}; this log's EIP-712 "
                f"domain names {ledger.log.contract} on chain {ledger.log.chain_id}"
            )
        self.ledger, self.registry, self.account, self.policy = ledger, registry, account, policy
        self.w3 = registry.w3
        self._log, self._lid = ledger.log.id, log_id(ledger.origin)
        self._on_event = on_event
        self._clock = clock
        self._sends = 0  # transactions the node accepted, to track each once more at once
        self._warned: set[tuple[str, str]] = set()  # (tx hash, what): a stuck transaction warns once

    # -- the step ------------------------------------------------------------------------

    def step(self) -> list[StoredAnchor]:
        """Track what is in flight; if nothing is, anchor the latest checkpoint. Rows written.

        After anything is sent it is tracked once more at once: an automining node (the
        embedded chain, anvil by default) has mined it already.
        """
        sends = self._sends
        written = self._track()
        if self._sends != sends:
            written += self._track()
        if not self.in_flight():
            sends = self._sends
            new = self._anchor_latest()
            if new is not None:
                written.append(new)
            if self._sends != sends:
                written += self._track()
        return written

    def in_flight(self) -> list[StoredAnchor]:
        return self.ledger.anchors(status="submitted")

    def anchor_and_wait(self, timeout: float = 120.0, poll: float = 0.2) -> StoredAnchor | None:
        """Step until the latest checkpoint has a mined (or final) row; return it.

        None when the log has no checkpoint. Raises ``AnchorError`` after ``timeout``
        seconds (the row stays ``submitted``; a later step carries on).
        """
        deadline = time.monotonic() + timeout
        while True:
            self.step()
            cp = self.ledger.checkpoint_or_none()
            if cp is None:
                return None
            if not self.in_flight():
                done = [a for a in self.ledger.anchors() if a.tree_size == cp.tree_size
                        and a.status in ("mined", "final")]  # fmt: skip
                if done:
                    return done[-1]
            if time.monotonic() > deadline:
                raise AnchorError(f"checkpoint {cp.tree_size} was not anchored within {timeout} s")
            time.sleep(poll)

    # -- step 1: the transaction in flight --------------------------------------------------

    def _track(self) -> list[StoredAnchor]:
        rows = self.in_flight()
        if not rows:
            return []
        mined_nonce = self.w3.eth.get_transaction_count(self.account.address, "latest")
        written: list[StoredAnchor] = []
        if min(r.nonce for r in rows) > mined_nonce:  # a gap: a reorg removed lower nonces of ours
            written += self._fill_gap(rows, mined_nonce)
            rows = self.in_flight()
            if not rows:
                return written
        for nonce in sorted({r.nonce for r in rows}):
            group = sorted((r for r in rows if r.nonce == nonce), key=lambda r: r.sent_at or datetime.min.replace(tzinfo=UTC))
            written += self._track_nonce(group, mined_nonce)
        return written

    def _fill_gap(self, rows: list[StoredAnchor], mined_nonce: int) -> list[StoredAnchor]:
        """In-flight transactions wait on nonces a reorg took back: send those again, or give up.

        The missing nonces belong to anchors of ours that were mined and then removed by a
        reorg. If each has an ``orphaned`` row, its signed bytes are sent again as they were
        (back to ``submitted``): replayed in nonce order they anchor the same heads again.
        While such a row is still ``mined`` (the confirmer has not seen the reorg yet),
        nothing is done. Otherwise nothing of ours can fill the gap: the waiting rows are
        ``failed`` and the latest checkpoint is anchored afresh from the chain's head.
        """
        missing = range(mined_nonce, min(r.nonce for r in rows))
        mine = [a for a in self.ledger.anchors() if a.nonce in missing]
        if any(a.status == "mined" for a in mine):
            return []  # the confirmer will mark them orphaned first
        orphans = {a.nonce: a for a in mine if a.status == "orphaned" and a.raw_tx is not None}
        if all(n in orphans for n in missing):
            revived = [replace(orphans[n], status="submitted", block_number=None, block_hash=None) for n in missing]
            for row in revived:
                log.warning("anchor %s of checkpoint %d (nonce %d) was removed by a reorg and later anchors "
                            "wait on its nonce: sending it again", row.tx_hash, row.tree_size, row.nonce)
                self._put("revived", row)
            return revived
        failed = [replace(row, status="failed") for row in rows]
        for row in failed:
            self._put("failed", row)
        log.warning("anchors of nonces %s wait on nonces %d..%d that nothing of ours can fill; anchoring afresh",
                    sorted({r.nonce for r in rows}), missing.start, missing.stop - 1)
        return failed

    def _track_nonce(self, group: list[StoredAnchor], mined_nonce: int) -> list[StoredAnchor]:
        states = [(row, lookup(self.w3, row.tx_hash)) for row in group]
        for row, state in states:
            if state.mined:
                r = state.receipt
                ok = r["status"] == 1
                status = ("final" if self.policy.final_when_mined else "mined") if ok else "failed"
                won = replace(row, block_number=r["blockNumber"], block_hash=_hex(bytes(r["blockHash"])), status=status)
                self._put("mined" if ok else "failed", won)
                lost = [replace(o, status="failed") for o, _ in states if o.tx_hash != row.tx_hash]
                for o in lost:
                    self._put("failed", o)
                if not ok:
                    log.error("anchor transaction %s of checkpoint %d was mined but reverted", row.tx_hash, row.tree_size)
                return [won, *lost]
        if mined_nonce > group[0].nonce:  # the nonce went to a transaction that is none of these
            failed = [replace(row, status="failed") for row in group]
            for row in failed:
                self._put("failed", row)
            log.warning("nonce %d of %s was used by another transaction; checkpoint %d will be anchored again "
                        "if the chain does not have it", group[0].nonce, self.account.address, group[0].tree_size)
            return failed
        newest, state = states[-1]
        if not state.pending:
            outcome = self._send(newest, "resent")
            if outcome is not Sent.FEE_TOO_LOW:
                return []
            return self._bump(newest, reason="the node refused its fee")
        base = next_base_fee(self.w3)
        if newest.max_fee_per_gas is not None and newest.max_fee_per_gas < base:
            return self._bump(newest, reason=f"its fee cap is under the next base fee {base}")
        if newest.sent_at is not None and (self._clock() - newest.sent_at).total_seconds() >= self.policy.stuck_seconds:
            return self._bump(newest, reason=f"pending for over {self.policy.stuck_seconds:g} s")
        return []

    def _bump(self, row: StoredAnchor, *, reason: str) -> list[StoredAnchor]:
        if row.raw_tx is None or row.max_fee_per_gas is None or row.max_priority_fee_per_gas is None:
            raise AnchorError(f"anchor {row.tx_hash} has no stored transaction to replace")
        old = Fees(row.max_fee_per_gas, row.max_priority_fee_per_gas)
        fees = bumped(old, suggest_fees(self.w3), cap=self.policy.max_fee_per_gas)
        if fees is None:
            self._warn_once(row, "cap", "anchor %s of checkpoint %d is stuck (%s) but its fees are at the cap of %d "
                            "wei per gas (TDSL_ANCHOR_MAX_FEE_GWEI)", row.tx_hash, row.tree_size, reason,
                            self.policy.max_fee_per_gas)  # fmt: skip
            return []
        signed = resigned(self.account, row.raw_tx, fees)
        new = self._row(row.tree_size, signed)
        log.info("replacing anchor %s of checkpoint %d (%s): fee cap %d → %d wei per gas",
                 row.tx_hash, row.tree_size, reason, old.max_fee_per_gas, fees.max_fee_per_gas)
        self._put("bumped", new)
        self._send(new, "sent")
        return [new]

    # -- step 2: a new anchor -----------------------------------------------------------------

    def _anchor_latest(self) -> StoredAnchor | None:
        cp = self.ledger.checkpoint_or_none()
        if cp is None or self.ledger.anchored_size() >= cp.tree_size:
            return None
        head = self.registry.head(self._lid)
        if head.tree_size > cp.tree_size:
            raise InconsistentTreeHead(
                f"the chain's head for {self.ledger.origin!r} has size {head.tree_size}, beyond our latest "
                f"checkpoint {cp.tree_size}: it was not anchored from this store"
            )
        if head.tree_size > 0 and self.ledger.root_at(head.tree_size, fresh=True) != head.root:
            raise InconsistentTreeHead(
                f"the chain's head for {self.ledger.origin!r} at size {head.tree_size} has root {head.root.hex()}, "
                f"which is not the root of our tree at that size"
            )
        if head.tree_size == cp.tree_size:  # already there: find and record the transaction that did it
            tx = self.registry.anchored_tx(self._lid, cp.tree_size)
            if tx is None:
                raise AnchorError(f"the chain's head is at size {cp.tree_size} but no TreeHeadAnchored event says so")
            row = self._mined_row(cp.tree_size, tx)
            self._put("recorded", row)
            return row
        proof = self.ledger.consistency_proof(head.tree_size, cp.tree_size, fresh=True)
        call = self.registry.anchor_call(self._lid, cp.tree_size, cp.root_hash, proof)
        nonce = self.w3.eth.get_transaction_count(self.account.address, "latest")
        try:
            signed = sign_call(self.w3, self.account, f"anchor on {self.registry.address}", call,
                               nonce=nonce, fees=suggest_fees(self.w3))  # fmt: skip
        except RegistryReverted as e:
            raise AnchorError(f"the registry refused checkpoint {cp.tree_size}: {e}") from e
        row = self._row(cp.tree_size, signed)
        self._put("written", row)
        self._send(row, "sent")
        return row

    # -- rows ------------------------------------------------------------------------------------

    def _row(self, tree_size: int, signed: SignedTx) -> StoredAnchor:
        return StoredAnchor(
            tree_size=tree_size, tx_hash=_hex(signed.tx_hash), chain_id=self.ledger.log.chain_id,
            contract=self.registry.address, nonce=signed.nonce, block_number=None, block_hash=None,
            status="submitted", raw_tx=signed.raw, max_fee_per_gas=signed.fees.max_fee_per_gas,
            max_priority_fee_per_gas=signed.fees.max_priority_fee_per_gas, sent_at=self._clock(),
        )  # fmt: skip

    def _mined_row(self, tree_size: int, tx: AnchorTx) -> StoredAnchor:
        return StoredAnchor(
            tree_size=tree_size, tx_hash=_hex(tx.tx_hash), chain_id=self.ledger.log.chain_id,
            contract=self.registry.address, nonce=tx.nonce, block_number=tx.block_number,
            block_hash=_hex(tx.block_hash), status="final" if self.policy.final_when_mined else "mined",
        )  # fmt: skip

    def _put(self, event: str, row: StoredAnchor) -> None:
        self.ledger.put_anchor(row)
        if self._on_event is not None:
            self._on_event(event, row)

    def _send(self, row: StoredAnchor, event: str) -> Sent:
        assert row.raw_tx is not None
        outcome = broadcast(self.w3, row.raw_tx, f"send anchor {row.tx_hash}")
        if outcome in (Sent.ACCEPTED, Sent.ALREADY_KNOWN):
            self._sends += 1
            log.info("%s anchor of checkpoint %d: %s (nonce %d)", event, row.tree_size, row.tx_hash, row.nonce)
            if self._on_event is not None:
                self._on_event(event, row)
        else:
            self._warn_once(row, outcome.value, "the node refused anchor %s of checkpoint %d: %s",
                            row.tx_hash, row.tree_size, outcome.value)  # fmt: skip
        return outcome

    def _warn_once(self, row: StoredAnchor, what: str, message: str, *args) -> None:
        if (row.tx_hash, what) not in self._warned:
            self._warned.add((row.tx_hash, what))
            log.warning(message, *args)


def anchorer_for(ledger: Ledger, chain, *, on_event: Event | None = None) -> Anchorer:
    """The anchorer of ``ledger`` on an opened ``ledger.chain.access.ChainAccess``."""
    if chain.account is None:
        raise AnchorError("the chain was opened without the operator key: nothing can be anchored")
    policy = AnchorPolicy(chain.final_when_mined)
    if chain.stuck_seconds is not None:
        policy = replace(policy, stuck_seconds=chain.stuck_seconds)
    if chain.max_fee_per_gas is not None:
        policy = replace(policy, max_fee_per_gas=chain.max_fee_per_gas)
    return Anchorer(ledger, chain.registry, chain.account, policy, on_event=on_event)


def anchor_latest(ledger: Ledger, registry: Registry, account, *, final_when_mined: bool,
                  timeout: float = 120.0) -> StoredAnchor | None:  # fmt: skip
    """Anchor the latest checkpoint and wait until it is mined: ``Anchorer.anchor_and_wait``."""
    return Anchorer(ledger, registry, account, AnchorPolicy(final_when_mined=final_when_mined)).anchor_and_wait(timeout)
