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
from functools import partial
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.datadir import load_operator_key
from ledger.errors import ConfigError

CHAIN_DB = "chain.db"


@dataclass
class ChainAccess:
    """An open chain with the log's registry attached and the operator's account."""

    registry: Any  # ledger.chain.registry.Registry
    account: Any | None  # eth_account LocalAccount; None when opened read-only
    final_when_mined: bool
    close: Callable[[], None]
    # TDSL_ANCHOR_STUCK_SECONDS and TDSL_ANCHOR_MAX_FEE_GWEI (in wei); None: AnchorPolicy's defaults
    stuck_seconds: float | None = None
    max_fee_per_gas: int | None = None


def http_web3(url: str, timeout: float):
    """A ``Web3`` on a JSON-RPC ``url`` whose requests time out after ``timeout`` seconds and
    are not retried inside web3 (the sealer loop retries whole steps with backoff, so a
    node that is down costs one timeout per step, not web3's five retries per request)."""
    from web3 import Web3

    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))


def _http_web3(settings: Settings):
    return http_web3(settings.rpc_url, settings.rpc_timeout_seconds)


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


def deploy_rpc(settings: Settings, *, operator_key: bytes, origin: str, chain_id: int, contract: str) -> str:
    """``tdsl chain deploy`` on ``TDSL_RPC_URL``: deploy the registry if the log's address has
    no code yet (it must land there: the log's EIP-712 domain names it), then create the log
    if the registry does not have it. Returns what was done, for the operator to read."""
    from eth_account import Account

    from ledger.chain.registry import Registry, RegistryReverted, log_id

    if not settings.rpc_url:
        raise ConfigError("set TDSL_RPC_URL: the embedded chain is deployed by `tdsl init` itself")
    w3 = _http_web3(settings)
    if w3.eth.chain_id != chain_id:
        raise ConfigError(f"the node's chain id is {w3.eth.chain_id}; this log anchors on chain {chain_id}")
    operator = Account.from_key(operator_key)
    done = []
    if not w3.eth.get_code(contract):
        nonce = w3.eth.get_transaction_count(operator.address)
        if nonce != 0:
            raise ConfigError(
                f"the registry would land at the operator's nonce-{nonce} address, not at {contract} as this log's "
                "domain says (it was made for the operator's first transaction); initialise a new log with "
                "--contract naming an existing registry, or with a fresh operator key"
            )
        registry = Registry.deploy(w3, operator)
        if registry.address != contract:
            raise ConfigError(f"the registry was deployed at {registry.address}, not at {contract}")
        done.append(f"deployed the registry at {contract}")
    registry = Registry(w3, contract)
    registry.verify_code()
    try:
        registry.head(log_id(origin))
        done.append(f"the registry already has log {origin!r}")
    except RegistryReverted as e:
        if e.error_name != "UnknownLog":
            raise
        registry.create_log(operator, log_id(origin))
        done.append(f"created log {origin!r} with operator {operator.address}")
    return "; ".join(done)


def rpc_chain_id(settings: Settings) -> int:
    """The chain id of ``TDSL_RPC_URL`` (``tdsl init`` takes it as the log's domain chain id)."""

    return _http_web3(settings).eth.chain_id


def open_chain(settings: Settings, *, chain_id: int, contract: str, operator_key: bytes | None) -> ChainAccess:
    """Open the log's chain: embedded unless ``TDSL_RPC_URL`` is set. Checks chain id and code."""
    from eth_account import Account

    from ledger.chain.embedded import open_embedded_chain
    from ledger.chain.registry import Registry

    if settings.rpc_url:
        w3 = _http_web3(settings)
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
    return ChainAccess(
        registry, account, final, close, stuck_seconds=settings.anchor_stuck_seconds,
        max_fee_per_gas=int(settings.anchor_max_fee_gwei * 10**9),
    )  # fmt: skip


@dataclass(frozen=True)
class ServingChain:
    """How a server anchors: ``open`` is what its sealer calls when it takes the log's lock
    (None: it seals without anchoring), ``note`` what the operator is told at start."""

    open: Callable[[], ChainAccess] | None
    note: str


def serving_chain(settings: Settings, *, chain_id: int, contract: str) -> ServingChain:
    """The chain a server of this data directory anchors on: the embedded one if the
    directory has it, else ``TDSL_RPC_URL``; none without either, or without the operator
    key (loaded here, once per process, so that a wrong password shows at start)."""
    if not settings.rpc_url and not embedded_chain_path(settings).exists():
        return ServingChain(None, "no anchor chain configured (no embedded chain, no TDSL_RPC_URL): sealing without anchoring")
    try:
        key = load_operator_key(settings)
    except ConfigError as e:
        return ServingChain(None, f"WARNING: sealing without anchoring: {e}")
    opener = partial(open_chain, settings, chain_id=chain_id, contract=contract, operator_key=key)
    return ServingChain(opener, f"anchoring on chain {chain_id} at {contract}")


def anchor_reader(settings: Settings, *, chain_id: int, contract: str):
    """A read-only ``ledger.verify.AnchorReader`` of the log's chain: the embedded chain's
    file read directly (no py-evm, safe beside a running server), else ``TDSL_RPC_URL``."""
    if not settings.rpc_url:
        from ledger.chain.embedded_file import ChainFileAnchorReader

        path = embedded_chain_path(settings)
        if not path.exists():
            raise ConfigError(f"no embedded chain at {path}: this data directory was made without one")
        return ChainFileAnchorReader(path, chain_id, contract)
    from ledger.chain.anchoring import RegistryAnchorReader
    from ledger.chain.registry import Registry

    registry = Registry(_http_web3(settings), contract)
    registry.verify_code()
    return RegistryAnchorReader(registry)
