"""A consumer's connector appending access events under one agreement, for the
concurrency test of ``count`` (issue 9).

``python -m tests.workers.event_appender DATA_DIR DATABASE_URL KEY_HEX AGREEMENT_ID
AGREEMENT_LEAF_HEX DATASET_ID COUNT SEED`` appends COUNT events in batches of random
size 1..5, each acknowledged only after ``submit`` returned.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from ledger.config import Settings
from ledger.datadir import open_data_dir, signed_submission
from ledger.envelope import address_of


def main(argv: list[str]) -> None:
    data_dir, url, key_hex, agreement, leaf, dataset, count, seed = argv[:8]
    rng = random.Random(int(seed))
    ledger = open_data_dir(Settings(data_dir=Path(data_dir), database_url=url))
    key = bytes.fromhex(key_hex)
    actor = address_of(key)
    done = 0
    while done < int(count):
        n = min(rng.randint(1, 5), int(count) - done)
        batch = [
            signed_submission(
                ledger, key, kind="access_event", parents=(leaf,), issued_at="2026-06-01T12:00:00Z",
                payload={"agreement": agreement, "actor": actor, "action": "read", "dataset": dataset,
                         "purpose": "battery-passport", "spatial": "DE", "at": "2026-06-01T10:00:00Z",
                         "transfer_process_id": f"urn:tp:{seed}-{done + i}"},
            )
            for i in range(n)
        ]
        ledger.submit(batch)
        done += n
    ledger.store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
