"""A small typed client of the AnchorRegistry contract (DESIGN §4) over a ``web3.Web3``.

Any provider works: ``EthereumTesterProvider`` (the embedded py-evm chain) or
``HTTPProvider`` to a JSON-RPC node (anvil, a real chain). The client holds no keys:
every transaction is signed by the ``eth_account`` ``LocalAccount`` passed to the call,
and nothing is sent through the node's own accounts (``eth_sendTransaction``).

The calls and their contract:

``load_artifact()``
    The committed build ``contracts/build/AnchorRegistry.json`` (abi, creation bytecode,
    deployed bytecode). No chain access.
``log_id(origin)``
    ``SHA-256(origin)`` as the contract's ``bytes32`` log id. No chain access.
``Registry.deploy(w3, account)``  — a transaction
    Deploys the artifact's creation bytecode, waits for the receipt, checks the code at the
    new address (``verify_code``) and returns the attached client.
``Registry(w3, address)``
    Attaches to a deployed registry. No chain access: call ``verify_code()`` before
    trusting what the address answers.
``verify_code()``  — a read
    Raises ``LookAlikeContract`` unless the code at the address is byte for byte the
    artifact's deployed bytecode (an address with no code included).
``create_log``, ``anchor``, ``transfer_operator``  — transactions
    Each one: reads the account's pending nonce, the chain id and EIP-1559 fees from the
    node (``ledger.chain.transactions.suggest_fees``: the node's tip, and twice the next
    base fee plus that tip), estimates gas — which executes the call
    first, so a call that would revert raises ``RegistryReverted`` *before* anything is
    signed or sent and no nonce is used — then signs locally, sends the raw transaction and
    waits (``timeout`` seconds, default 120) for its receipt, i.e. for it to be mined in
    one block. Confirmations beyond that block are the caller's business (DESIGN §6). A
    transaction mined but reverted (the state changed between estimate and inclusion) is
    replayed as a call to decode its error, and raises ``RegistryReverted`` with
    ``tx_hash`` set. They return an ``AnchorTx`` (hash, block number and hash, gas used).
    These synchronous calls are for one-off operator actions and tests; the ledger's own
    anchoring goes through ``ledger.chain.anchorer`` (write-ahead, resend, fee bumps).
``anchor_call``
    The unsent ``anchor(...)`` call with its arguments checked. No chain access.
``head``, ``root_at``, ``verify_inclusion``  — reads (``eth_call`` at ``latest``)
    Return a ``Head``, an ``AnchoredRoot``, a bool. They revert (``RegistryReverted``)
    ``UnknownLog`` / ``TreeSizeNotAnchored`` as the contract documents;
    ``verify_inclusion`` returns False, never raises, for a bad proof.

Errors: every failure is an ``ledger.errors.AnchorError`` raised ``from`` the web3 (or
eth-tester) exception. A custom-error revert is a ``RegistryReverted`` carrying the
error's name and decoded values, matched by 4-byte selector against the ABI's error
entries (``Error(string)`` and ``Panic(uint256)`` too). Bad arguments (a hash that is not
32 bytes, a size out of ``uint64``, an invalid address) raise ``InvalidArgument``, which
is also a ``ValueError``, before the chain is touched.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import eth_abi
from eth_utils import is_address, keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from ledger.errors import AnchorError

try:  # the embedded chain's own revert exception (eth-tester is a test dependency)
    from eth_tester.exceptions import TransactionFailed as _EthTesterFailed
except ImportError:  # pragma: no cover - eth-tester absent
    _EthTesterFailed = None

__all__ = [
    "AnchoredRoot",
    "AnchorTx",
    "Artifact",
    "Head",
    "InvalidArgument",
    "LookAlikeContract",
    "Registry",
    "RegistryReverted",
    "load_artifact",
    "log_id",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_PATH = REPO_ROOT / "contracts" / "build" / "AnchorRegistry.json"

UINT64_MAX = 2**64 - 1
DEFAULT_TIMEOUT = 120.0

_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]


# -- errors -------------------------------------------------------------------------


class InvalidArgument(AnchorError, ValueError):
    """An argument the contract cannot take (wrong length, out of range, not an address)."""


class LookAlikeContract(AnchorError):
    """The code at the registry's address is not the committed AnchorRegistry build."""

    def __init__(self, message: str, *, address: str, code_sha256: str | None):
        super().__init__(message)
        self.address = address
        self.code_sha256 = code_sha256


class RegistryReverted(AnchorError):
    """The registry reverted; ``error_name`` and ``args_decoded`` are its custom error.

    ``error_name`` is ``None`` when the revert data matches no known error (``data`` then
    holds it raw). ``tx_hash`` is set when the revert happened in a mined transaction
    rather than in the pre-flight call.
    """

    def __init__(
        self,
        message: str,
        *,
        error_name: str | None,
        args_decoded: tuple[Any, ...],
        data: bytes,
        tx_hash: bytes | None = None,
    ):
        super().__init__(message)
        self.error_name = error_name
        self.args_decoded = args_decoded
        self.data = data
        self.tx_hash = tx_hash


# -- typed values ----------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """The committed build of AnchorRegistry."""

    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes


@dataclass(frozen=True)
class Head:
    """A log's latest anchored head; size 0, the empty root and zeros before any anchor."""

    tree_size: int
    root: bytes
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class AnchoredRoot:
    """The head anchored at one size: its root and the anchoring block and timestamp."""

    root: bytes
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class AnchorTx:
    """A mined, successful registry transaction."""

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    gas_used: int
    nonce: int


# -- artifact and ids ----------------------------------------------------------------------


def _hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


@cache
def load_artifact() -> Artifact:
    """The committed ABI and bytecode (``contracts/build/AnchorRegistry.json``)."""
    try:
        data = json.loads(ARTIFACT_PATH.read_text())
        return Artifact(
            abi=tuple(data["abi"]),
            bytecode=_hex_bytes(data["bytecode"]),
            deployed_bytecode=_hex_bytes(data["deployedBytecode"]),
        )
    except (OSError, ValueError, KeyError) as exc:
        raise AnchorError(f"cannot read the AnchorRegistry build {ARTIFACT_PATH}: {exc}") from exc


def log_id(origin: str) -> bytes:
    """The contract's log id of a log: ``SHA-256(origin)`` (DESIGN §4)."""
    if not isinstance(origin, str):
        raise TypeError(f"origin must be str, got {type(origin).__name__}")
    return hashlib.sha256(origin.encode("utf-8")).digest()


# -- revert decoding ---------------------------------------------------------------------


def _error_table(abi: Sequence[dict[str, Any]]) -> dict[bytes, tuple[str, tuple[str, ...]]]:
    table: dict[bytes, tuple[str, tuple[str, ...]]] = {
        _ERROR_STRING: ("Error", ("string",)),
        _PANIC: ("Panic", ("uint256",)),
    }
    for item in abi:
        if item.get("type") == "error":
            types = tuple(i["type"] for i in item["inputs"])
            table[keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return table


@cache
def _artifact_errors() -> dict[bytes, tuple[str, tuple[str, ...]]]:
    return _error_table(load_artifact().abi)


def decode_revert(data: bytes, abi: Sequence[dict[str, Any]] | None = None) -> tuple[str, tuple[Any, ...]] | None:
    """``(error name, values)`` of revert ``data``, or None if no known error matches.

    Addresses come back checksummed, ``bytesN`` as ``bytes``.
    """
    table = _error_table(abi) if abi is not None else _artifact_errors()
    entry = table.get(bytes(data[:4]))
    if entry is None:
        return None
    name, types = entry
    try:
        values = eth_abi.decode(list(types), bytes(data[4:]))
    except Exception:  # eth_abi's DecodingError and friends: not this error after all
        return None
    return name, tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values))


def _revert_data_of(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 or eth-tester exception (or its causes)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ContractLogicError) and isinstance(e.data, str | bytes):
            try:
                return _hex_bytes(e.data) if isinstance(e.data, str) else bytes(e.data)
            except ValueError:
                pass
        if _EthTesterFailed is not None and isinstance(e, _EthTesterFailed) and e.args:
            # "execution reverted: b'<revert data>'"
            text = str(e.args[0]).removeprefix("execution reverted: ")
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = None
            if isinstance(value, bytes):
                return value
            if isinstance(value, str) and value.startswith("0x"):
                try:
                    return _hex_bytes(value)
                except ValueError:
                    pass
        e = e.__cause__ or e.__context__
    return None


def _reverted(what: str, data: bytes, exc_tx_hash: bytes | None = None) -> RegistryReverted:
    decoded = decode_revert(data)
    if decoded is None:
        return RegistryReverted(
            f"{what} reverted with unknown data 0x{data.hex()}", error_name=None, args_decoded=(), data=data, tx_hash=exc_tx_hash
        )
    name, values = decoded
    shown = ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in values)
    return RegistryReverted(
        f"{what} reverted: {name}({shown})", error_name=name, args_decoded=values, data=data, tx_hash=exc_tx_hash
    )


_CHAIN_ERRORS: tuple[type[BaseException], ...] = (Web3Exception, OSError) + (
    (_EthTesterFailed,) if _EthTesterFailed is not None else ()
)


@contextmanager
def _chain_call(what: str) -> Iterator[None]:
    """Turn web3 / eth-tester / transport failures into AnchorError, ``from`` the original."""
    try:
        yield
    except AnchorError:
        raise
    except Exception as exc:
        data = _revert_data_of(exc)
        if data is not None:
            raise _reverted(what, data) from exc
        if isinstance(exc, _CHAIN_ERRORS):
            raise AnchorError(f"{what} failed: {exc}") from exc
        raise


# -- argument checks ---------------------------------------------------------------------


def _bytes32(name: str, value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise InvalidArgument(f"{name} must be 32 bytes, got {type(value).__name__}")
    if len(value) != 32:
        raise InvalidArgument(f"{name} must be 32 bytes, got {len(value)}")
    return bytes(value)


def _uint64(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= UINT64_MAX:
        raise InvalidArgument(f"{name} must be in [0, 2**64), got {value}")
    return value


def _proof(name: str, proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, bytes | bytearray | str):
        raise InvalidArgument(f"{name} must be a sequence of 32-byte hashes, got {type(proof).__name__}")
    return [_bytes32(f"{name}[{i}]", h) for i, h in enumerate(proof)]


def _address(name: str, value: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise InvalidArgument(f"{name} must be a 20-byte hex address, got {value!r}")
    return to_checksum_address(value)


# -- the client ----------------------------------------------------------------------------


class Registry:
    """A deployed AnchorRegistry at ``address`` on the chain behind ``w3``."""

    def __init__(self, w3: Web3, address: str, *, timeout: float = DEFAULT_TIMEOUT):
        self.w3 = w3
        self.address = _address("address", address)
        self.timeout = timeout
        self._artifact = load_artifact()
        self._contract = w3.eth.contract(address=self.address, abi=list(self._artifact.abi))

    def __repr__(self) -> str:
        return f"Registry({self.address})"

    # -- deployment and code -------------------------------------------------------------

    @classmethod
    def deploy(cls, w3: Web3, account: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Registry:
        """Deploy the committed build from ``account``; wait for it; return the client."""
        artifact = load_artifact()
        factory = w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        receipt, _ = _send(w3, account, "deploy AnchorRegistry", factory.constructor(), timeout)
        address = receipt["contractAddress"]
        if not address:
            raise AnchorError(f"deploy AnchorRegistry: receipt of 0x{bytes(receipt['transactionHash']).hex()} has no contract address")
        registry = cls(w3, address, timeout=timeout)
        registry.verify_code()
        return registry

    def verify_code(self) -> None:
        """Raise ``LookAlikeContract`` unless the code here is the artifact's deployed bytecode."""
        with _chain_call(f"eth_getCode {self.address}"):
            code = bytes(self.w3.eth.get_code(self.address))
        if code == self._artifact.deployed_bytecode:
            return
        if not code:
            raise LookAlikeContract(
                f"no contract at {self.address}: an account without code, not AnchorRegistry",
                address=self.address,
                code_sha256=None,
            )
        digest = hashlib.sha256(code).hexdigest()
        raise LookAlikeContract(
            f"a look-alike contract at {self.address}: its code ({len(code)} bytes, SHA-256 {digest}) "
            f"is not the committed AnchorRegistry build ({len(self._artifact.deployed_bytecode)} bytes)",
            address=self.address,
            code_sha256=digest,
        )

    # -- transactions ------------------------------------------------------------------------

    def create_log(self, account: Any, log_id: bytes) -> AnchorTx:
        """``createLog(logId)``: ``account`` becomes the log's operator. A transaction."""
        log_id = _bytes32("log_id", log_id)
        return self._transact(account, "createLog", log_id)

    def anchor(
        self, account: Any, log_id: bytes, tree_size: int, root: bytes, consistency_proof: Sequence[bytes]
    ) -> AnchorTx:
        """``anchor(...)``: the head (``tree_size``, ``root``), proven to extend the last one."""
        what = f"anchor on {self.address}"
        receipt, nonce = _send(self.w3, account, what, self.anchor_call(log_id, tree_size, root, consistency_proof), self.timeout)
        return _anchor_tx(receipt, nonce)

    def anchor_call(self, log_id: bytes, tree_size: int, root: bytes, consistency_proof: Sequence[bytes]) -> Any:
        """The unsent ``anchor(...)`` call, arguments checked (for ``ledger.chain.anchorer``)."""
        return self._contract.functions.anchor(
            _bytes32("log_id", log_id),
            _uint64("tree_size", tree_size),
            _bytes32("root", root),
            _proof("consistency_proof", consistency_proof),
        )

    def transfer_operator(self, account: Any, log_id: bytes, new_operator: str) -> AnchorTx:
        """``transferOperator(logId, newOperator)``: hand the log over. A transaction."""
        args = (_bytes32("log_id", log_id), _address("new_operator", new_operator))
        return self._transact(account, "transferOperator", *args)

    def _transact(self, account: Any, fn: str, *args: Any) -> AnchorTx:
        what = f"{fn} on {self.address}"
        call = getattr(self._contract.functions, fn)(*args)
        receipt, nonce = _send(self.w3, account, what, call, self.timeout)
        return _anchor_tx(receipt, nonce)

    # -- reads --------------------------------------------------------------------------------

    def head(self, log_id: bytes) -> Head:
        """``head(logId)``: the latest anchored head (size 0, the empty root, zeros before any)."""
        log_id = _bytes32("log_id", log_id)
        with _chain_call(f"head on {self.address}"):
            size, root, block, ts = self._contract.functions.head(log_id).call()
        return Head(tree_size=size, root=bytes(root), block_number=block, timestamp=ts)

    def root_at(self, log_id: bytes, tree_size: int) -> AnchoredRoot:
        """``rootAt(logId, treeSize)``: the head anchored at exactly ``tree_size``."""
        args = (_bytes32("log_id", log_id), _uint64("tree_size", tree_size))
        with _chain_call(f"rootAt on {self.address}"):
            root, block, ts = self._contract.functions.rootAt(*args).call()
        return AnchoredRoot(root=bytes(root), block_number=block, timestamp=ts)

    def anchored_tx(self, log_id: bytes, tree_size: int) -> AnchorTx | None:
        """The transaction that anchored ``tree_size``, if the chain has that head; else None.

        How a sender whose reply was lost learns that its transaction landed. ``rootAt``
        names the block, so only that block's ``TreeHeadAnchored`` events are read (no scan
        of the chain's history).
        """
        try:
            anchored = self.root_at(log_id, tree_size)
        except RegistryReverted as e:
            if e.error_name in ("TreeSizeNotAnchored", "UnknownLog"):
                return None
            raise
        args = {"logId": _bytes32("log_id", log_id), "treeSize": _uint64("tree_size", tree_size)}
        block = anchored.block_number
        with _chain_call(f"TreeHeadAnchored events on {self.address}"):
            events = self._contract.events.TreeHeadAnchored.get_logs(argument_filters=args, from_block=block, to_block=block)
            if not events:
                return None
            ev = events[-1]
            receipt = self.w3.eth.get_transaction_receipt(ev["transactionHash"])
            nonce = self.w3.eth.get_transaction(ev["transactionHash"])["nonce"]
        return _anchor_tx(receipt, nonce)

    def verify_inclusion(
        self, log_id: bytes, tree_size: int, leaf_index: int, leaf_hash: bytes, proof: Sequence[bytes]
    ) -> bool:
        """``verifyInclusion(...)``: whether ``proof`` puts ``leaf_hash`` in the anchored head."""
        args = (
            _bytes32("log_id", log_id),
            _uint64("tree_size", tree_size),
            _uint64("leaf_index", leaf_index),
            _bytes32("leaf_hash", leaf_hash),
            _proof("proof", proof),
        )
        with _chain_call(f"verifyInclusion on {self.address}"):
            return bool(self._contract.functions.verifyInclusion(*args).call())


# -- sending --------------------------------------------------------------------------------


def _send(w3: Web3, account: Any, what: str, call: Any, timeout: float) -> tuple[Any, int]:
    """Estimate (a revert raises here, nothing sent), sign, send, wait for the receipt.

    Returns the receipt and the transaction's nonce.
    """
    sender = getattr(account, "address", None)
    if sender is None or not hasattr(account, "sign_transaction"):
        raise InvalidArgument(f"{what}: account must be an eth_account LocalAccount, got {type(account).__name__}")
    from ledger.chain.transactions import suggest_fees  # it builds on this module

    fees = suggest_fees(w3)
    with _chain_call(what):
        params = {
            "from": sender,
            "nonce": w3.eth.get_transaction_count(sender, "pending"),
            "chainId": w3.eth.chain_id,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        tx = call.build_transaction(params)  # runs eth_estimateGas: reverts surface here
        signed = account.sign_transaction(tx)
        tx_hash = bytes(w3.eth.send_raw_transaction(signed.raw_transaction))
    try:
        with _chain_call(what):
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    except AnchorError as exc:
        if isinstance(exc.__cause__, TimeExhausted):
            raise AnchorError(f"{what}: 0x{tx_hash.hex()} not mined within {timeout} s") from exc.__cause__
        raise
    if receipt["status"] != 1:
        raise _replayed_revert(w3, what, tx, receipt)
    return receipt, tx["nonce"]


def _replayed_revert(w3: Web3, what: str, tx: dict[str, Any], receipt: Any) -> AnchorError:
    """A mined, reverted transaction: replay it as a call on its block's parent to decode why."""
    tx_hash = bytes(receipt["transactionHash"])
    call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
    block = receipt["blockNumber"]
    try:
        w3.eth.call(call, block_identifier=max(block - 1, 0))
    except Exception as exc:  # the replay is best effort: whatever it raises is examined
        data = _revert_data_of(exc)
        if data is not None:
            err = _reverted(f"{what} (mined in block {block} as 0x{tx_hash.hex()})", data, tx_hash)
            err.__cause__ = exc
            return err
    return RegistryReverted(
        f"{what}: 0x{tx_hash.hex()} was mined in block {block} but reverted (the reason could not be replayed)",
        error_name=None,
        args_decoded=(),
        data=b"",
        tx_hash=tx_hash,
    )


def _anchor_tx(receipt: Any, nonce: int) -> AnchorTx:
    return AnchorTx(
        tx_hash=bytes(receipt["transactionHash"]),
        block_number=receipt["blockNumber"],
        block_hash=bytes(receipt["blockHash"]),
        gas_used=receipt["gasUsed"],
        nonce=nonce,
    )

