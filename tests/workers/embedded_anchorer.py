"""Anchors growing tree heads on an embedded chain until killed (tests of ledger.chain.embedded).

``python -m tests.workers.embedded_anchorer CHAIN_DB OPERATOR_KEY_HEX ORIGIN``: deploys the
registry and creates the log on first use (address saved beside the chain file), then
anchors heads of a tree of identical leaves at sizes 1, 2, 3, ... printing ``ANCHORED n``
after each anchor's transaction returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

from eth_account import Account

from ledger import merkle
from ledger.chain import Registry, log_id
from ledger.chain.embedded import open_embedded_chain

LEAF = merkle.leaf_hash(b"leaf")


def main(argv: list[str]) -> None:
    path, key_hex, origin = Path(argv[0]), argv[1], argv[2]
    w3, _backend = open_embedded_chain(path)
    operator = Account.from_key(bytes.fromhex(key_hex))
    address_file = Path(f"{path}.registry")
    lid = log_id(origin)
    if not address_file.exists():
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": operator.address, "value": 10**20})
        registry = Registry.deploy(w3, operator)
        registry.create_log(operator, lid)
        address_file.write_text(registry.address)
    registry = Registry(w3, address_file.read_text())
    size = registry.head(lid).tree_size
    while True:
        new = size + 1
        leaves = [LEAF] * new
        proof = merkle.consistency_proof(leaves, size, new)
        registry.anchor(operator, lid, new, merkle.root_hash(leaves), proof)
        print(f"ANCHORED {new}", flush=True)
        size = new


if __name__ == "__main__":
    main(sys.argv[1:])
