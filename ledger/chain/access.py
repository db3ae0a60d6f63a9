"""Which chain a data directory anchors on, and opening it (DESIGN §6).

- **Embedded** (default): ``<data_dir>/chain.db``, the persistent in-process py-evm chain.
  ``tdsl init`` creates it, funds the operator from a development account and deploys the
  registry with the operator's first transaction — at the address the log's EIP-712
  domain already names. A mined block is final there.
- **JSON-RPC** (``TDSL_RPC_URL``): any EVM node. The registry is deployed with
  ``tdsl chain deploy`` (next step of this milestone); at start the chain id and the code
  at the log's registry address are checked, so a wrong chain or a look-alike contract
  stops the ledger with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.errors import ConfigError

CHAIN_DB = "chain.db"


@dataclass
class ChainAccess:
    """An open chain with the log's registry attached and the operator's account."""

    registry: Any  # ledger.chain.registry.Registry
    account: Any | None  # eth_account LocalAccount; None when opened read-only
    final_when_mined: bool
    close: Callable[[], None]


def embedded_chain_path(settings: Settings) -> Path:
    return settings.data_dir / CHAIN_DB


def deploy_embedded(settings: Settings, operator_key: bytes, origin: str) -> str:
    """Create the embedded chain, fund the operator, deploy the registry, create the log."""
    from eth_account import Account

    from ledger.chain.embedded import open_embedded_chain
    from ledger.chain.registry import Registry, log_id

    w3, backend = open_embedded_chain(embedded_chain_path(settings))
    try:
        operator = Account.from_key(operator_key)
        if w3.eth.get_transaction_count(operator.address) != 0:
            raise ConfigError("the operator has already sent transactions on this embedded chain")
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": operator.address, "value": 10**21})
        registry = Registry.deploy(w3, operator)
        registry.create_log(operator, log_id(origin))
        return registry.address
    finally:
        backend.kv.close()


def open_chain(settings: Settings, *, chain_id: int, contract: str, operator_key: bytes | None) -> ChainAccess:
    """Open the log's chain: embedded unless ``TDSL_RPC_URL`` is set. Checks chain id and code."""
    from eth_account import Account
    from web3 import Web3

    from ledger.chain.embedded import open_embedded_chain
    from ledger.chain.registry import Registry

    if settings.rpc_url:
        w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 30}))
        close: Callable[[], None] = lambda: None  # noqa: E731
        final = False
    else:
        path = embedded_chain_path(settings)
        if not path.exists():
            raise ConfigError(f"no embedded chain at {path}: this data directory was made without one")
        w3, backend = open_embedded_chain(path, read_only=operator_key is None)
        close, final = backend.kv.close, True
    try:
        if w3.eth.chain_id != chain_id:
            raise ConfigError(f"the chain's id is {w3.eth.chain_id}; this log anchors on chain {chain_id}")
        registry = Registry(w3, contract)
        registry.verify_code()
    except Exception:
        close()
        raise
    account = Account.from_key(operator_key) if operator_key is not None else None
    return ChainAccess(registry, account, final, close)
