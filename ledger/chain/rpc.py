"""Talking to the registry's chain: reverts decoded, failures typed.

No contract logic and no keys here; ``ledger.chain.registry`` (the contract client) and
``ledger.chain.transactions`` (one transaction's life) build on it.

``decode_revert(data)``
    ``(error name, values)`` of revert data, matched by 4-byte selector against the ABI's
    custom errors, ``Error(string)`` and ``Panic(uint256)``.
``chain_call(what)``
    A context manager turning web3, eth-tester and transport failures into
    ``ledger.errors.AnchorError`` (``from`` the original); a revert with data becomes a
    ``RegistryReverted`` carrying the decoded error.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import eth_abi
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError, Web3Exception

from ledger.chain.artifact import hex_bytes, load_artifact
from ledger.errors import AnchorError

try:  # the embedded chain's own revert exception (eth-tester is a test dependency)
    from eth_tester.exceptions import TransactionFailed as _EthTesterFailed
except ImportError:  # pragma: no cover - eth-tester absent
    _EthTesterFailed = None

_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]


# -- errors -------------------------------------------------------------------------------


class InvalidArgument(AnchorError, ValueError):
    """An argument the contract cannot take (wrong length, out of range, not an address)."""


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


def revert_data_of(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 or eth-tester exception (or its causes)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ContractLogicError) and isinstance(e.data, str | bytes):
            try:
                return hex_bytes(e.data) if isinstance(e.data, str) else bytes(e.data)
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
                    return hex_bytes(value)
                except ValueError:
                    pass
        e = e.__cause__ or e.__context__
    return None


def reverted(what: str, data: bytes, exc_tx_hash: bytes | None = None) -> RegistryReverted:
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
def chain_call(what: str) -> Iterator[None]:
    """Turn web3 / eth-tester / transport failures into AnchorError, ``from`` the original."""
    try:
        yield
    except AnchorError:
        raise
    except Exception as exc:
        data = revert_data_of(exc)
        if data is not None:
            raise reverted(what, data) from exc
        if isinstance(exc, _CHAIN_ERRORS):
            raise AnchorError(f"{what} failed: {exc}") from exc
        raise
