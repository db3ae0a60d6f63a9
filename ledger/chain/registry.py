"""A small typed client of the AnchorRegistry contract (DESIGN §4) over a ``web3.Web3``.

Any provider works: ``EthereumTesterProvider`` (the embedded py-evm chain) or
``HTTPProvider`` to a JSON-RPC node (anvil, a real chain). The client holds no keys:
every transaction is signed by the ``eth_account`` ``LocalAccount`` passed to the call,
and nothing is sent through the node's own accounts (``eth_sendTransaction``).

The calls and their contract:

``load_artifact()`` (from ``ledger.chain.artifact``)
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

Errors (``ledger.chain.rpc``): every failure is an ``ledger.errors.AnchorError`` raised
``from`` the web3 (or eth-tester) exception. A custom-error revert is a ``RegistryReverted`` carrying the
error's name and decoded values, matched by 4-byte selector against the ABI's error
entries (``Error(string)`` and ``Panic(uint256)`` too). Bad arguments (a hash that is not
32 bytes, a size out of ``uint64``, an invalid address) raise ``InvalidArgument``, which
is also a ``ValueError``, before the chain is touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import is_address, to_checksum_address
from web3 import Web3
from web3.exceptions import TimeExhausted

from ledger.chain.artifact import Artifact, load_artifact, log_id
from ledger.chain.rpc import InvalidArgument, RegistryReverted, chain_call, revert_data_of, reverted
from ledger.chain.transactions import suggest_fees
from ledger.errors import AnchorError

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

UINT64_MAX = 2**64 - 1
DEFAULT_TIMEOUT = 120.0



# -- errors -------------------------------------------------------------------------


class LookAlikeContract(AnchorError):
    """The code at the registry's address is not the committed AnchorRegistry build."""

    def __init__(self, message: str, *, address: str, code_sha256: str | None):
        super().__init__(message)
        self.address = address
        self.code_sha256 = code_sha256


# -- typed values ----------------------------------------------------------------------


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
        with chain_call(f"eth_getCode {self.address}"):
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
        with chain_call(f"head on {self.address}"):
            size, root, block, ts = self._contract.functions.head(log_id).call()
        return Head(tree_size=size, root=bytes(root), block_number=block, timestamp=ts)

    def root_at(self, log_id: bytes, tree_size: int) -> AnchoredRoot:
        """``rootAt(logId, treeSize)``: the head anchored at exactly ``tree_size``."""
        args = (_bytes32("log_id", log_id), _uint64("tree_size", tree_size))
        with chain_call(f"rootAt on {self.address}"):
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
        with chain_call(f"TreeHeadAnchored events on {self.address}"):
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
        with chain_call(f"verifyInclusion on {self.address}"):
            return bool(self._contract.functions.verifyInclusion(*args).call())


# -- sending --------------------------------------------------------------------------------


def _send(w3: Web3, account: Any, what: str, call: Any, timeout: float) -> tuple[Any, int]:
    """Estimate (a revert raises here, nothing sent), sign, send, wait for the receipt.

    Returns the receipt and the transaction's nonce.
    """
    sender = getattr(account, "address", None)
    if sender is None or not hasattr(account, "sign_transaction"):
        raise InvalidArgument(f"{what}: account must be an eth_account LocalAccount, got {type(account).__name__}")
    fees = suggest_fees(w3)
    with chain_call(what):
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
        with chain_call(what):
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
        data = revert_data_of(exc)
        if data is not None:
            err = reverted(f"{what} (mined in block {block} as 0x{tx_hash.hex()})", data, tx_hash)
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

