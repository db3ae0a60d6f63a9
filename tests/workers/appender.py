"""A writer process for the concurrency and kill -9 tests.

``python -m tests.workers.appender DATA_DIR DATABASE_URL KEY_HEX COUNT SEED [--ack]``
appends COUNT signed dataset records in batches of random size. With ``--ack`` it prints
``ACK <record id>`` for every record after ``submit`` returned (i.e. after the commit),
flushing each line, so a parent that kills it knows exactly what was acknowledged.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from ledger.config import Settings
from ledger.datadir import open_data_dir, signed_submission


def main(argv: list[str]) -> None:
    data_dir, url, key_hex, count, seed = argv[:5]
    ack = "--ack" in argv
    rng = random.Random(int(seed))
    ledger = open_data_dir(Settings(data_dir=Path(data_dir), database_url=url))
    key = bytes.fromhex(key_hex)
    done = 0
    while done < int(count):
        n = min(rng.randint(1, 40), int(count) - done)
        batch = [
            signed_submission(
                ledger, key, kind="dataset",
                payload={"title": f"w{seed}-{done + i}", "content_hash": "sha256:" + "cd" * 32},
                record_id=f"w{seed}-{done + i}",
            )
            for i in range(n)
        ]
        ledger.submit(batch)
        done += n
        if ack:
            sys.stdout.write("".join(f"ACK {s.envelope.id}\n" for s in batch))
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
