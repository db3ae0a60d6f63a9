"""Helpers shared by tests that need a real, initialised ledger."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger import merkle
from ledger.config import Settings
from ledger.datadir import init_data_dir, register_participant
from ledger.envelope import address_of
from ledger.log import Ledger

ORIGIN = "test.tds-ledger.example/log"


@dataclass
class World:
    ledger: Ledger
    settings: Settings
    operator_key: bytes
    operator_token: str
    provider_key: bytes
    provider: str


def make_world(data_dir: Path, database_url: str, origin: str = ORIGIN) -> World:
    """A fresh ledger with its operator and one registered provider."""
    operator_key = os.urandom(32)
    settings = Settings(data_dir=data_dir, database_url=database_url, operator_key=operator_key.hex())
    ledger, token = init_data_dir(settings, origin=origin)
    provider_key = os.urandom(32)
    provider = address_of(provider_key)
    register_participant(
        ledger, operator_key, address=provider, name="Cell supplier", legal_id=("LEI", "5493001KJTIIGC8Y1R12"),
        roles=["provider", "producer"],
    )
    return World(ledger, settings, operator_key, token, provider_key, provider)


def check_whole_tree(ledger: Ledger) -> int:
    """Re-verify the whole log from its entries; return the tree size.

    Indexes are 0..n-1 with no gap, every envelope hashes to its stored leaf hash, and
    the root recomputed from the envelopes equals the root computed from the tiles.
    """
    store, log = ledger.store, ledger.log.id
    size = store.tree_size(log)
    rows = store.leaf_data(log, 0, size + 10)
    assert [i for i, _, _ in rows] == list(range(size)), "indexes are not exactly 0..size-1"
    hashes = []
    for i, stored, envelope in rows:
        h = merkle.leaf_hash(envelope)
        assert h == stored, f"entry {i} does not hash to its stored leaf hash"
        hashes.append(h)
    assert merkle.root_hash(hashes) == store.root_at(log, size), "tiles disagree with the entries"
    return size
