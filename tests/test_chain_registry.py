"""ledger.chain.registry against two real chains: the embedded py-evm (web3's
EthereumTesterProvider) and an anvil node over JSON-RPC (tests/anvil.py).

Every test runs on both: deploy and code check (a look-alike and an account without code
are refused), create/anchor/head/rootAt with block numbers and timestamps, on-chain
inclusion checks, the contract's custom errors decoded with their values, operator
transfer, and a mined-but-reverted transaction decoded by replay.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import Web3Exception

from ledger import merkle
from ledger.chain import (
    AnchoredRoot,
    Head,
    InvalidArgument,
    LookAlikeContract,
    Registry,
    RegistryReverted,
    load_artifact,
    log_id,
)
from ledger.chain import registry as registry_module
from ledger.errors import AnchorError
import anvil
from anvil import anvil_node

# One chain of each kind per module: keep these tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("chain_registry")

LEAVES = [merkle.leaf_hash(b"entry %d" % i) for i in range(20)]
ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class Chain:
    name: str
    w3: Web3
    operator: LocalAccount
    other: LocalAccount


def _revert_causes() -> tuple[type[BaseException], ...]:
    from eth_tester.exceptions import TransactionFailed

    return (Web3Exception, TransactionFailed)


@pytest.fixture(scope="module", params=["py-evm", "anvil"])
def chain(request) -> Iterator[Chain]:
    if request.param == "py-evm":
        w3 = Web3(EthereumTesterProvider())
        funder = w3.eth.accounts[0]
        accounts = [Account.create() for _ in range(2)]
        for acct in accounts:
            tx = w3.eth.send_transaction({"from": funder, "to": acct.address, "value": 10**21})
            assert w3.eth.wait_for_transaction_receipt(tx).status == 1
        yield Chain("py-evm", w3, *accounts)
    else:
        with anvil_node() as node:
            w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 10}))
            assert w3.eth.chain_id == 31337
            yield Chain("anvil", w3, Account.from_key(node.dev_keys[0]), Account.from_key(node.dev_keys[1]))


@pytest.fixture(scope="module")
def registry(chain: Chain) -> Registry:
    return Registry.deploy(chain.w3, chain.operator, timeout=10)


def fresh_log(registry: Registry, chain: Chain) -> bytes:
    lid = log_id(f"https://ledger.example/{uuid.uuid4()}")
    registry.create_log(chain.operator, lid)
    return lid


def anchored_log(registry: Registry, chain: Chain) -> bytes:
    """A log anchored at 5 (empty proof) and then 13 (a real consistency proof)."""
    lid = fresh_log(registry, chain)
    registry.anchor(chain.operator, lid, 5, merkle.root_hash(LEAVES[:5]), [])
    registry.anchor(chain.operator, lid, 13, merkle.root_hash(LEAVES[:13]), merkle.consistency_proof(LEAVES, 5, 13))
    return lid


def send_raw(chain: Chain, account: LocalAccount, tx: dict) -> dict:
    """Sign and send ``tx`` with an explicit gas limit (no estimate); return the receipt."""
    w3 = chain.w3
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tx = {
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 2 * base + 10**9,
        "value": 0,
        **tx,
    }
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)


def test_anvil_missing_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(anvil, "ANVIL", tmp_path / "no-anvil")
    monkeypatch.setattr(anvil, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-anvil not found"):
        with anvil_node():
            pass
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must not skip"):
        with anvil_node():
            pass


# -- artifact, ids, code -----------------------------------------------------------------


def test_artifact_and_log_id():
    artifact = load_artifact()
    assert artifact.bytecode.endswith(artifact.deployed_bytecode[-53:])  # the metadata trailer
    assert {e["name"] for e in artifact.abi if e["type"] == "error"} >= {"SizeNotIncreasing", "NotOperator"}
    assert log_id("ledger.example/log") == hashlib.sha256(b"ledger.example/log").digest()
    with pytest.raises(TypeError):
        log_id(b"bytes")  # type: ignore[arg-type]


def test_deploy_and_verify_code(chain: Chain, registry: Registry):
    registry.verify_code()
    assert chain.w3.eth.get_code(registry.address) == load_artifact().deployed_bytecode

    # An account without code.
    with pytest.raises(LookAlikeContract, match="no contract") as exc:
        Registry(chain.w3, chain.other.address).verify_code()
    assert exc.value.code_sha256 is None

    # A look-alike: the registry's code less its last byte, deployed by raw init code.
    runtime = load_artifact().deployed_bytecode[:-1]
    n = len(runtime).to_bytes(2, "big")
    init = b"\x61" + n + b"\x61\x00\x0f\x60\x00\x39\x61" + n + b"\x60\x00\xf3" + runtime
    receipt = send_raw(chain, chain.other, {"data": init, "gas": 2_000_000})
    assert receipt.status == 1
    look_alike = Registry(chain.w3, receipt.contractAddress)
    assert chain.w3.eth.get_code(look_alike.address) == runtime
    with pytest.raises(LookAlikeContract, match="look-alike") as exc:
        look_alike.verify_code()
    assert exc.value.code_sha256 == hashlib.sha256(runtime).hexdigest()
    assert isinstance(exc.value, AnchorError)


def test_bad_arguments_refused_before_the_chain(chain: Chain, registry: Registry):
    with pytest.raises(InvalidArgument):
        registry.head(b"short")
    with pytest.raises(ValueError):  # also the builtin
        registry.anchor(chain.operator, b"\0" * 32, 2**64, b"\0" * 32, [])
    with pytest.raises(InvalidArgument):
        registry.anchor(chain.operator, b"\0" * 32, 1, b"\0" * 32, [b"\0" * 31])
    with pytest.raises(InvalidArgument):
        registry.transfer_operator(chain.operator, b"\0" * 32, "not an address")
    with pytest.raises(InvalidArgument):
        Registry(chain.w3, "0x1234")


# -- anchoring ------------------------------------------------------------------------------


def test_anchor_head_and_root_at(chain: Chain, registry: Registry):
    w3 = chain.w3
    lid = fresh_log(registry, chain)
    assert registry.head(lid) == Head(tree_size=0, root=merkle.EMPTY_ROOT, block_number=0, timestamp=0)

    root5, root13 = merkle.root_hash(LEAVES[:5]), merkle.root_hash(LEAVES[:13])
    tx5 = registry.anchor(chain.operator, lid, 5, root5, [])
    block5 = w3.eth.get_block(tx5.block_number)
    assert tx5.block_hash == bytes(block5.hash) and len(tx5.tx_hash) == 32 and tx5.gas_used > 21_000
    assert registry.head(lid) == Head(5, root5, tx5.block_number, block5.timestamp)

    tx13 = registry.anchor(chain.operator, lid, 13, root13, merkle.consistency_proof(LEAVES, 5, 13))
    block13 = w3.eth.get_block(tx13.block_number)
    assert tx13.block_number > tx5.block_number
    assert tx13.block_hash == bytes(block13.hash)
    assert registry.head(lid) == Head(13, root13, tx13.block_number, block13.timestamp)
    assert registry.root_at(lid, 5) == AnchoredRoot(root5, tx5.block_number, block5.timestamp)
    assert registry.root_at(lid, 13) == AnchoredRoot(root13, tx13.block_number, block13.timestamp)
    receipt = w3.eth.get_transaction_receipt(tx13.tx_hash)
    assert receipt.status == 1 and receipt.gasUsed == tx13.gas_used


def test_verify_inclusion(chain: Chain, registry: Registry):
    lid = anchored_log(registry, chain)
    for index in (0, 4, 7, 12):
        proof = merkle.inclusion_proof(LEAVES, index, 13)
        assert registry.verify_inclusion(lid, 13, index, LEAVES[index], proof) is True
        bad = list(proof)
        bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
        assert registry.verify_inclusion(lid, 13, index, LEAVES[index], bad) is False
    assert registry.verify_inclusion(lid, 5, 4, LEAVES[4], merkle.inclusion_proof(LEAVES, 4, 5)) is True
    assert registry.verify_inclusion(lid, 13, 3, LEAVES[4], merkle.inclusion_proof(LEAVES, 4, 13)) is False


# -- reverts ---------------------------------------------------------------------------------


def _reverts(call, *args) -> RegistryReverted:
    with pytest.raises(RegistryReverted) as exc:
        call(*args)
    err = exc.value
    assert isinstance(err, AnchorError)
    assert isinstance(err.__cause__, _revert_causes())
    assert err.error_name in str(err)
    return err


def test_reverts_decoded(chain: Chain, registry: Registry):
    op, other = chain.operator, chain.other
    lid = anchored_log(registry, chain)
    root13 = merkle.root_hash(LEAVES[:13])
    nonce = chain.w3.eth.get_transaction_count(op.address)

    err = _reverts(registry.anchor, op, lid, 13, root13, [])
    assert (err.error_name, err.args_decoded) == ("SizeNotIncreasing", (13, 13))
    assert err.tx_hash is None
    err = _reverts(registry.anchor, op, lid, 12, merkle.root_hash(LEAVES[:12]), [])
    assert (err.error_name, err.args_decoded) == ("SizeNotIncreasing", (13, 12))
    err = _reverts(registry.anchor, op, lid, 13, LEAVES[0], [])
    assert (err.error_name, err.args_decoded) == ("ConflictingRoot", (13, root13, LEAVES[0]))

    proof = merkle.consistency_proof(LEAVES, 13, 20)
    bad = [*proof[:-1], LEAVES[0]]
    err = _reverts(registry.anchor, op, lid, 20, merkle.root_hash(LEAVES), bad)
    assert (err.error_name, err.args_decoded) == ("InvalidConsistencyProof", (13, 20))
    err = _reverts(registry.anchor, op, lid, 20, merkle.root_hash(LEAVES), proof[:-1])
    assert (err.error_name, err.args_decoded) == ("ProofLengthMismatch", (len(proof) - 1, len(proof)))
    err = _reverts(registry.anchor, op, lid, 20, merkle.root_hash(LEAVES), [LEAVES[0]] * 64)
    assert (err.error_name, err.args_decoded) == ("ProofTooLong", (64, 63))

    err = _reverts(registry.anchor, other, lid, 20, merkle.root_hash(LEAVES), proof)
    assert (err.error_name, err.args_decoded) == ("NotOperator", (lid, other.address))
    err = _reverts(registry.create_log, other, lid)
    assert (err.error_name, err.args_decoded) == ("LogAlreadyExists", (lid,))

    unknown = log_id(f"unknown/{uuid.uuid4()}")
    err = _reverts(registry.head, unknown)
    assert (err.error_name, err.args_decoded) == ("UnknownLog", (unknown,))
    err = _reverts(registry.root_at, lid, 7)
    assert (err.error_name, err.args_decoded) == ("TreeSizeNotAnchored", (lid, 7))

    # Refused in the pre-flight estimate: nothing was signed or sent.
    assert chain.w3.eth.get_transaction_count(op.address) == nonce
    assert registry.head(lid).tree_size == 13


def test_transfer_operator(chain: Chain, registry: Registry):
    op, other = chain.operator, chain.other
    lid = anchored_log(registry, chain)
    err = _reverts(registry.transfer_operator, op, lid, ZERO)
    assert (err.error_name, err.args_decoded) == ("InvalidOperator", (ZERO,))
    err = _reverts(registry.transfer_operator, other, lid, other.address)
    assert (err.error_name, err.args_decoded) == ("NotOperator", (lid, other.address))

    tx = registry.transfer_operator(op, lid, other.address)
    assert tx.block_number > 0
    proof = merkle.consistency_proof(LEAVES, 13, 20)
    err = _reverts(registry.anchor, op, lid, 20, merkle.root_hash(LEAVES), proof)
    assert (err.error_name, err.args_decoded) == ("NotOperator", (lid, op.address))
    registry.anchor(other, lid, 20, merkle.root_hash(LEAVES), proof)
    assert registry.head(lid).tree_size == 20
    registry.transfer_operator(other, lid, op.address)  # and back
    err = _reverts(registry.transfer_operator, other, lid, other.address)
    assert err.error_name == "NotOperator"


def test_mined_revert_is_replayed_and_decoded(chain: Chain, registry: Registry):
    """A transaction that reverts on chain (sent without an estimate) decodes by replay."""
    lid = anchored_log(registry, chain)
    contract = chain.w3.eth.contract(address=registry.address, abi=list(load_artifact().abi))
    tx = contract.functions.anchor(lid, 13, merkle.root_hash(LEAVES[:13]), []).build_transaction(
        {"from": chain.operator.address, "gas": 200_000, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1}
    )
    tx = {k: tx[k] for k in ("to", "data", "gas")}
    receipt = send_raw(chain, chain.operator, tx)
    assert receipt.status == 0
    err = registry_module._replayed_revert(chain.w3, "anchor", {"from": chain.operator.address, **tx}, receipt)
    assert isinstance(err, RegistryReverted)
    assert (err.error_name, err.args_decoded) == ("SizeNotIncreasing", (13, 13))
    assert err.tx_hash == bytes(receipt.transactionHash)
