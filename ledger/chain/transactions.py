"""One EIP-1559 transaction's life on a JSON-RPC node: fees, signing, broadcast, lookup.

No store and no policy here: ``ledger.chain.anchorer`` decides when to sign, resend or
bump, and records each step. What this module fixes:

- **Fees** (``suggest_fees``): the tip is the node's ``eth_maxPriorityFeePerGas``; the fee
  cap is twice the *next* block's base fee (``eth_feeHistory``'s last entry, else the
  latest block's) plus the tip, so a transaction survives a few full blocks of rising base
  fee. ``bumped`` raises both by at least 12.5 % (geth refuses a replacement under +10 %)
  and to at least what the node suggests now, never above a cap the operator set.
- **Signing** (``sign_call``): gas is estimated first — which executes the call, so a call
  that would revert raises ``RegistryReverted`` before anything is signed — then signed
  locally with the nonce the caller chose. ``resigned`` signs the same transaction (nonce,
  target, data, gas) again with new fees: a replacement.
- **Broadcast** (``broadcast``): ``eth_sendRawTransaction``; the node's refusals that mean
  something to the caller come back as a ``Sent`` value (already known, nonce used, fee
  below the base fee, replacement underpriced) instead of an exception. A node that cannot
  be reached raises ``AnchorError``.
- **Lookup** (``lookup``): mined (with its receipt), pending in the node's pool, or unknown
  to the node (dropped, replaced, never received, or removed by a reorg).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from ledger.chain.rpc import InvalidArgument, chain_call
from ledger.errors import AnchorError

#: A replacement raises each fee by this factor at least (geth requires 1.10).
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8


@dataclass(frozen=True, slots=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True, slots=True)
class SignedTx:
    tx_hash: bytes
    raw: bytes
    nonce: int
    fees: Fees


class Sent(enum.Enum):
    """What the node said to a broadcast."""

    ACCEPTED = "accepted"
    ALREADY_KNOWN = "already known"  # in its pool already: as good as accepted
    NONCE_USED = "nonce too low"  # a transaction with this nonce is already mined
    FEE_TOO_LOW = "fee too low"  # below the base fee, or an underpriced replacement


@dataclass(frozen=True, slots=True)
class TxState:
    """``receipt`` when mined; else ``pending`` says whether the node's pool holds it."""

    receipt: Any | None
    pending: bool

    @property
    def mined(self) -> bool:
        return self.receipt is not None


def next_base_fee(w3: Web3) -> int:
    """The base fee of the next block (the node's fee history), else of the latest block."""
    with chain_call("eth_feeHistory"):
        try:
            return int(w3.eth.fee_history(1, "latest")["baseFeePerGas"][-1])
        except Exception:  # noqa: BLE001 - no fee history here (eth-tester): the latest block's
            base = w3.eth.get_block("latest").get("baseFeePerGas")
    if base is None:
        raise AnchorError("the chain has no EIP-1559 base fee (a pre-London chain is not supported)")
    return int(base)


def suggest_fees(w3: Web3) -> Fees:
    """The node's tip, and a fee cap of twice the next base fee plus that tip."""
    base = next_base_fee(w3)
    with chain_call("eth_maxPriorityFeePerGas"):
        tip = int(w3.eth.max_priority_fee)
    return Fees(max_fee_per_gas=2 * base + tip, max_priority_fee_per_gas=tip)


def _raised(value: int) -> int:
    return -(-value * BUMP_NUMERATOR // BUMP_DENOMINATOR) + 1  # ceil(value × 1.125) + 1 wei


def bumped(old: Fees, now: Fees, *, cap: int | None = None) -> Fees | None:
    """Fees for a replacement of a transaction sent with ``old``; None if ``cap`` forbids one.

    Each fee rises by at least 12.5 % (+1 wei) and to at least ``now`` (the current
    suggestion); the fee cap never exceeds ``cap`` wei per gas, and a replacement that the
    cap would hold under +12.5 % is not made (the node would refuse it).
    """
    tip = max(_raised(old.max_priority_fee_per_gas), now.max_priority_fee_per_gas)
    fee = max(_raised(old.max_fee_per_gas), now.max_fee_per_gas, tip)
    if cap is not None and fee > cap:
        fee = cap
        if fee < _raised(old.max_fee_per_gas):
            return None
        tip = min(tip, fee)
    return Fees(max_fee_per_gas=fee, max_priority_fee_per_gas=tip)


def _signed(account: Any, tx: dict[str, Any], fees: Fees) -> SignedTx:
    tx = {**tx, "maxFeePerGas": fees.max_fee_per_gas, "maxPriorityFeePerGas": fees.max_priority_fee_per_gas}
    signed = account.sign_transaction(tx)
    return SignedTx(tx_hash=bytes(signed.hash), raw=bytes(signed.raw_transaction), nonce=tx["nonce"], fees=fees)


def sign_call(w3: Web3, account: Any, what: str, call: Any, *, nonce: int, fees: Fees) -> SignedTx:
    """Estimate gas for ``call`` (a revert raises here, nothing signed), then sign it."""
    if getattr(account, "address", None) is None or not hasattr(account, "sign_transaction"):
        raise InvalidArgument(f"{what}: account must be an eth_account LocalAccount, got {type(account).__name__}")
    with chain_call(what):
        tx = call.build_transaction({
            "from": account.address, "nonce": nonce, "chainId": w3.eth.chain_id,
            "maxFeePerGas": fees.max_fee_per_gas, "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        })  # fmt: skip
    tx.pop("from", None)
    return _signed(account, tx, fees)


def resigned(account: Any, raw: bytes, fees: Fees) -> SignedTx:
    """The transaction ``raw`` (same nonce, target, data, gas) signed again with ``fees``."""
    tx = dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())
    for field in ("v", "r", "s", "type"):
        tx.pop(field, None)
    if not tx.get("accessList"):
        tx.pop("accessList", None)
    return _signed(account, tx, fees)


_REFUSALS = (
    (Sent.ALREADY_KNOWN, ("already known", "already imported", "known transaction", "alreadyknown")),
    (Sent.NONCE_USED, ("nonce too low", "nonce is too low", "oldnonce")),
    (Sent.FEE_TOO_LOW, ("underpriced", "less than block base fee", "fee cap less than", "fee too low", "feetoolow")),
)


_ETH_TESTER_NONCE = re.compile(r"invalid transaction nonce: expected (\d+), but got (\d+)")


def broadcast(w3: Web3, raw: bytes, what: str) -> Sent:
    """Send ``raw``; a refusal the caller acts on is returned, anything else raises."""
    try:
        with chain_call(what):
            w3.eth.send_raw_transaction(raw)
        return Sent.ACCEPTED
    except Exception as exc:  # noqa: BLE001 - nodes word their refusals differently; sorted below
        message = str(exc.__cause__ or exc).lower()
        squeezed = message.replace(" ", "")
        for outcome, needles in _REFUSALS:
            if any(n.replace(" ", "") in squeezed for n in needles):
                return outcome
        stale = _ETH_TESTER_NONCE.search(message)  # py-evm: "invalid transaction nonce: expected 1, but got 0"
        if stale and int(stale[2]) < int(stale[1]):
            return Sent.NONCE_USED
        if isinstance(exc, AnchorError):
            raise
        raise AnchorError(f"{what} failed: {exc}") from exc


def lookup(w3: Web3, tx_hash: bytes | str) -> TxState:
    """Mined (with the receipt), pending in the node's pool, or unknown to the node."""
    with chain_call(f"look up transaction {tx_hash if isinstance(tx_hash, str) else '0x' + tx_hash.hex()}"):
        try:
            return TxState(receipt=w3.eth.get_transaction_receipt(tx_hash), pending=False)
        except TransactionNotFound:
            pass
        try:
            tx = w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return TxState(receipt=None, pending=False)
        return TxState(receipt=None, pending=tx.get("blockNumber") is None)
