"""``tdsl verify``: the offline check of a receipt, kept apart so that it starts fast.

It imports only what verifying needs (``ledger.verify`` and what that uses); web3 only
for ``--rpc``, and py-evm never: ``--chain-db`` reads the embedded chain's file directly
(``ledger.chain.embedded_file``). The rest of the CLI (store, API, demo) is never imported. ``tdsl`` imports a command's module only when that
command runs (``ledger.cli``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.errors import VerificationError
from ledger.identity import Identity
from ledger.receipt import Receipt
from ledger.verify import REQUIREMENTS, AnchorStatus, ChainRef, check_receipt


class UsageError(Exception):
    """Arguments that parse but do not make sense together (exit code 2)."""


def _out(text: str = "") -> None:
    print(text, flush=True)


class _ChainReader:
    """Opens the chain the verifier named (``--rpc`` or ``--chain-db``) when the verifier first asks it."""

    def __init__(self, args: argparse.Namespace, chain_id: int, contract: str):
        self.args, self.chain_id, self.contract = args, chain_id, contract
        self._reader = None

    def _open(self):
        if self._reader is not None:
            return self._reader
        if self.args.chain_db is not None:  # read straight from the file: no web3, no py-evm
            from ledger.chain.embedded_file import ChainFileAnchorReader

            self._reader = ChainFileAnchorReader(self.args.chain_db, self.chain_id, self.contract, self.args.confirmations)
            return self._reader
        from web3 import Web3

        from ledger.chain.anchoring import RegistryAnchorReader
        from ledger.chain.registry import Registry

        w3 = Web3(Web3.HTTPProvider(self.args.rpc, request_kwargs={"timeout": 30}))
        if w3.eth.chain_id != self.chain_id:
            raise VerificationError(f"the chain's id is {w3.eth.chain_id}, the log's is {self.chain_id}")
        registry = Registry(w3, self.contract)
        registry.verify_code()
        self._reader = RegistryAnchorReader(registry, self.args.confirmations)
        return self._reader

    def find_anchor(self, receipt: Receipt, checkpoint_root: bytes):
        return self._open().find_anchor(receipt, checkpoint_root)

    def find_head(self, origin: str, tree_size: int, checkpoint_root: bytes):
        return self._open().find_head(origin, tree_size, checkpoint_root)


def _verifier_identity(args: argparse.Namespace) -> tuple[str, int, str] | None:
    """(note key, chain id, contract) from the flags, or None to read --identity. Checks usage only."""
    flags = (args.note_key, args.chain_id, args.contract)
    if args.identity is not None:
        if any(f is not None for f in flags):
            raise UsageError(
                "give the log's identity either as --identity FILE or as --note-key/--chain-id/--contract, not both"
            )
        return None
    if any(f is None for f in flags):
        raise UsageError(
            "the log's identity is needed: --identity identity.json, or all of --note-key, --chain-id and --contract"
        )
    return flags  # type: ignore[return-value]


def cmd_verify(args: argparse.Namespace) -> int:
    """A receipt; or a passport, as a ``vc+jwt`` file or a Digital Link URL (``ledger.cli_verify_passport``)."""
    explicit = _verifier_identity(args)  # usage errors (exit 2) before anything is read
    target = str(args.receipt)

    def check_receipt_file(path: Path) -> str:
        if explicit is None:
            identity = Identity.from_file(args.identity)
            if identity.origin != args.origin:
                raise VerificationError(
                    f"--origin {args.origin!r} is not the origin {identity.origin!r} in {args.identity}"
                )
            note_key, chain_id, contract = identity.note_key, identity.chain_id, identity.contract
        else:
            note_key, chain_id, contract = explicit
        try:
            data = path.read_bytes()
        except OSError as e:
            raise VerificationError(f"cannot read {path}: {e.strerror or e}") from e
        receipt = Receipt.from_json(data)
        reader = _ChainReader(args, chain_id, contract) if (args.rpc or args.chain_db) else None
        chain = ChainRef(chain_id=chain_id, contract=contract, reader=reader)
        status = check_receipt(receipt, origin=args.origin, chain=chain, note_key=note_key)
        if args.require is not None and status not in REQUIREMENTS[args.require]:
            raise VerificationError(f"the receipt's checkpoint is {status} on chain; --require {args.require}")
        # What the chain says, not what the receipt claims; without chain access, the claim-free receipt is unchecked.
        anchor = "pending, unchecked: no chain access" if status == AnchorStatus.UNCHECKED else str(status)
        return f"valid: record {receipt.entry.id} at leaf {receipt.leaf_index} in tree {receipt.tree_size} (anchor: {anchor})"

    if target.startswith(("https://", "http://")) or _is_compact_jws(Path(target)):
        from ledger.cli_verify_passport import cmd_verify_passport

        return cmd_verify_passport(args, target, check_receipt_file)
    try:
        line = check_receipt_file(Path(target))
    except Exception as e:  # noqa: BLE001 — a verifier fails closed: any error is "invalid"
        print(f"invalid: {str(e) or type(e).__name__}", file=sys.stderr)
        return 1
    _out(line)
    return 0


def _is_compact_jws(path: Path) -> bool:
    """Whether the file holds one compact JWS (three base64url parts), not a receipt."""
    try:
        head = path.read_bytes()[:200_000].strip()
    except OSError:
        return False
    return head.count(b".") == 2 and all(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_." for c in head)
