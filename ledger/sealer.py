"""The background sealer: signs a checkpoint when enough entries or enough time piled up.

It polls every ``poll_seconds`` and seals (``Ledger.seal``) when the unsealed entries
number at least ``every_entries`` or the oldest of them was appended at least
``interval_seconds`` ago. ``SealerHalted`` — the stored tree does not extend the last
checkpoint — stops the loop for good, logged as critical: an operator must investigate,
and ``/v1/health`` reports unhealthy meanwhile. Any other error is logged and retried
with exponential backoff (up to ``max_backoff_seconds``). ``InconsistentTreeHead`` — the
chain's head for the log is not a head of the stored tree, so either the store was
rewritten or the operator key anchored another history — halts it the same way.

One sealer and anchorer per log (DESIGN §9): the loop runs only while it holds the log's
sealer lock (``SQLStore.try_lock_sealer``: a PostgreSQL advisory lock, or a lock file
beside the SQLite database). API replicas can all start a sealer: one runs, the others
stand by (``state`` "standby", healthy) and take over within ``standby_poll_seconds`` when
the holder dies or loses its database session. Two anchorers never race on the operator's
nonce. Given ``open_chain`` rather than an open ``chain``, the sealer opens the chain when
it takes the lock and closes it when it lets the lock go, so replicas on one machine
(``tdsl serve --workers N``) can share an embedded chain that only one process may open.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ledger.chain.access import ChainAccess
from ledger.chain.anchorer import Anchorer, anchorer_for
from ledger.chain.anchoring import confirm_anchors
from ledger.errors import AnchorError, CorruptStore, InconsistentTreeHead
from ledger.log import Ledger

log = logging.getLogger("ledger.sealer")


class Sealer:
    """A thread that seals ``ledger``; ``state`` is disabled, running, standby, stopped or halted."""

    def __init__(
        self, ledger: Ledger, *, every_entries: int, interval_seconds: float, poll_seconds: float = 0.2,
        max_backoff_seconds: float = 30.0, chain: ChainAccess | None = None, confirmations: int = 12,
        standby_poll_seconds: float = 2.0, open_chain: Callable[[], ChainAccess] | None = None,
    ):
        self.ledger = ledger
        self.chain = chain  # when set, each new checkpoint is anchored after it is sealed
        # Or opened when the lock is taken and closed when it is let go: an embedded chain can
        # be open in one process only, and only the lock holder anchors (``tdsl serve --workers``).
        self.open_chain = open_chain
        self._opened: ChainAccess | None = None  # the chain this sealer opened, closed with the lock
        self.confirmations = confirmations
        self.every_entries = every_entries
        self.interval = timedelta(seconds=interval_seconds)
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.standby_poll_seconds = standby_poll_seconds
        self.state = "disabled"
        self.detail: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._anchorer: Anchorer | None = None

    @property
    def healthy(self) -> bool:
        return self.state != "halted"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the sealer was already started")
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="tdsl-sealer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait for it (a seal in progress completes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the sealer did not stop within %.0f s", timeout)
        if self.state in ("running", "standby"):
            self.state = "stopped"

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def due(self, now: datetime | None = None) -> bool:
        """Whether the unsealed entries call for a checkpoint now."""
        unsealed, oldest = self.ledger.unsealed()
        if unsealed == 0 or oldest is None:
            return False
        return unsealed >= self.every_entries or (now or datetime.now(UTC)) - oldest >= self.interval

    def _run(self) -> None:
        """Hold the log's sealer lock (standby while another process has it), then seal."""
        failures = 0
        while not self._stop.is_set():
            try:
                lock = self.ledger.try_lock_sealer()
            except Exception as e:  # noqa: BLE001 - the database is unreachable: retried with backoff
                failures += 1
                self.detail = f"{type(e).__name__}: {e}"
                log.exception("cannot take the sealer lock (%d in a row)", failures)
                self._stop.wait(min(self.poll_seconds * 2**failures, self.max_backoff_seconds))
                continue
            if lock is None:
                if self.state != "standby":
                    log.info("another process runs the sealer of this log; standing by")
                self.state, self.detail = "standby", "another process runs the sealer and anchorer of this log"
                self._stop.wait(self.standby_poll_seconds)
                continue
            failures = 0
            with lock:
                self.state, self.detail = "running", None
                self._anchorer = None  # rebuilt from the rows: another process may have anchored meanwhile
                try:
                    self._seal_while_held(lock)
                finally:
                    if self._opened is not None:  # let the next lock holder open it
                        self.chain, opened, self._opened = None, self._opened, None
                        opened.close()
            if self.state == "halted":
                return

    def _seal_while_held(self, lock) -> None:
        failures = 0
        try:
            report = self.ledger.audit()
            log.info("audit at start: %d entries, %d tiles, %d checkpoints verified",
                     report.tree_size, report.tiles_checked, report.checkpoints_checked)
        except CorruptStore as e:
            self.state, self.detail = "halted", str(e)
            log.critical("sealer halted: the audit at start failed; no checkpoint will be signed until "
                         "an operator intervenes: %s", e)
            return
        while not self._stop.is_set():
            if not lock.alive():
                log.error("the sealer lock was lost (database session gone); standing by to take it again")
                self.state = "standby"
                return
            delay = self.poll_seconds
            try:
                self.ledger.purge()
                if self.due():
                    cp = self.ledger.seal()
                    log.info("sealed checkpoint of tree size %d", cp.tree_size)
                if self.chain is None and self.open_chain is not None:
                    # Opened after sealing, so that a chain that cannot be opened (a node
                    # down) delays anchoring only: checkpoints are still sealed meanwhile.
                    try:
                        self.chain = self._opened = self.open_chain()
                    except Exception as e:  # noqa: BLE001 - a node down, the chain file in use: retried
                        raise AnchorError(f"cannot open the anchor chain: {type(e).__name__}: {e}") from e
                if self.chain is not None and self.chain.account is not None:
                    if self._anchorer is None:
                        self._anchorer = anchorer_for(self.ledger, self.chain)
                    self._anchorer.step()  # logs what it sends, resends, replaces and records
                    if not self.chain.final_when_mined:
                        for a in confirm_anchors(self.ledger, self.chain.registry, confirmations=self.confirmations):
                            log.info("anchor of checkpoint %d (%s) is now %s", a.tree_size, a.tx_hash, a.status)
                failures, self.detail = 0, None
            except (CorruptStore, InconsistentTreeHead) as e:
                self.state, self.detail = "halted", str(e)
                log.critical("sealer halted, nothing will be signed or anchored until an operator intervenes: %s", e)
                return
            except Exception as e:  # noqa: BLE001 - logged, retried with backoff
                failures += 1
                delay = min(self.poll_seconds * 2**failures, self.max_backoff_seconds)
                self.detail = f"{type(e).__name__}: {e}"
                if isinstance(e, AnchorError):  # the chain is unreachable or refused: expected, one line
                    log.warning("anchoring failed (%d in a row); retrying in %.1f s: %s", failures, delay, e)
                else:
                    log.exception("sealing failed (%d in a row); retrying in %.1f s", failures, delay)
            self._stop.wait(delay)
