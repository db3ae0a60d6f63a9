"""The anchorer as its own process, for the kill -9 test against a JSON-RPC node.

``python -m tests.workers.rpc_anchorer DATA_DIR DATABASE_URL RPC_URL OPERATOR_KEY_HEX``
(``RPC_URL`` ``-``: the data directory's embedded chain) imports everything once, then reads one ``KILL_AT`` per line on stdin and for each forks a
child process that opens the data directory and the chain like ``tdsl anchor`` does (its
own database connections and HTTP session) and anchors the latest checkpoint.

``KILL_AT`` is an anchorer event — "written": the signed transaction is stored but not
sent; "sent": the node accepted it and nothing more is recorded. At the first such event
the child prints ``AT <event> <tx hash>`` and kills itself with SIGKILL. With ``none`` it
runs to the end and prints ``DONE <tree size> <tx hash>``. After each child the parent
prints ``EXIT <status>`` (a negative status is the signal that ended it). Forking from a
warm parent keeps twenty kills from paying twenty interpreter start-ups.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from ledger.chain.access import open_chain
from ledger.chain.anchorer import anchorer_for
from ledger.config import Settings
from ledger.datadir import open_data_dir


def anchor_once(data_dir: str, url: str, rpc_url: str, key_hex: str, kill_at: str) -> None:
    settings = Settings(data_dir=Path(data_dir), database_url=url, rpc_url=None if rpc_url == "-" else rpc_url)
    ledger = open_data_dir(settings)
    chain = open_chain(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract,
                       operator_key=bytes.fromhex(key_hex))  # fmt: skip

    def on_event(event: str, row) -> None:
        if event == kill_at:
            print(f"AT {event} {row.tx_hash}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    anchor = anchorer_for(ledger, chain, on_event=on_event).anchor_and_wait(timeout=60)
    chain.close()
    print(f"DONE {anchor.tree_size} {anchor.tx_hash}", flush=True)


def main(argv: list[str]) -> None:
    for line in sys.stdin:
        kill_at = line.strip()
        pid = os.fork()
        if pid == 0:
            try:
                anchor_once(*argv, kill_at)
            except BaseException as e:  # noqa: BLE001 - reported to the test, which fails on it
                print(f"ERROR {type(e).__name__}: {e}", flush=True)
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"EXIT {code}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
