"""A ledger's data directory: create it (``tdsl init``) and open it.

Layout of ``<data_dir>``:

- ``ledger.db`` — the SQLite store (unless ``TDSL_DATABASE_URL`` points elsewhere);
- ``operator.keystore.json`` — the operator's secp256k1 key, an encrypted Ethereum keystore
  (password from ``TDSL_KEYSTORE_PASSWORD``); or no file and ``TDSL_OPERATOR_KEY`` set;
- ``note.key`` — the log's Ed25519 checkpoint signing key (C2SP note key text), mode 0600;
- ``identity.json`` — the public identity a verifier configures itself with: origin,
  chain id, registry contract, note verifier key, operator address.

The EIP-712 domain of a log is fixed when the log is created. Until the chain milestone
deploys the registry, the default contract address is the one the operator's first
deployment (nonce 0) will get, and the default chain id is that of the embedded chain.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from eth_hash.auto import keccak

from ledger.checkpoint import NoteSigner
from ledger.identity import Identity
from ledger.config import Settings
from ledger.eip712 import to_checksum_address
from ledger.chain.embedded_file import EMBEDDED_CHAIN_ID
from ledger.envelope import address_of, check_origin
from ledger.errors import ConfigError, NotFound
from ledger.log import Ledger
from ledger.store import SQLStore
from ledger.store.effects import EFFECTS_VERSION
from ledger.submission import Submission


KEYSTORE = "operator.keystore.json"
NOTE_KEY = "note.key"
IDENTITY = "identity.json"


def first_contract_address(deployer: str) -> str:
    """Address of the contract ``deployer`` creates with its first transaction (nonce 0)."""
    raw = bytes.fromhex(deployer[2:])
    return to_checksum_address(keccak(b"\xd6\x94" + raw + b"\x80")[12:])


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_private_file(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (0600) and write ``text``; never overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def load_operator_key(settings: Settings) -> bytes:
    """The operator key from ``TDSL_OPERATOR_KEY`` or the keystore in the data directory."""
    if settings.operator_key is not None:
        raw = settings.operator_key.get_secret_value().removeprefix("0x")
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError("TDSL_OPERATOR_KEY must be 32 bytes of hex")
        return key
    path = settings.data_dir / KEYSTORE
    if not path.exists():
        raise ConfigError(f"no operator key: set TDSL_OPERATOR_KEY or create {path} with `tdsl init`")
    if settings.keystore_password is None:
        raise ConfigError(f"set TDSL_KEYSTORE_PASSWORD to unlock {path}")
    from eth_account import (
        Account,  # imported here: it is slow to import and only needed here
    )

    try:
        return bytes(Account.decrypt(json.loads(path.read_text()), settings.keystore_password.get_secret_value()))
    except ValueError as e:
        raise ConfigError(f"cannot unlock {path}: {e}") from e


def init_data_dir(
    settings: Settings, *, origin: str, chain_id: int | None = None, contract: str | None = None,
    deploy_embedded: bool = False,
) -> tuple[Ledger, str]:
    """Create the data directory, keys, schema and log; register the operator.

    ``deploy_embedded``: also create the embedded chain under the data directory and deploy
    the registry there (what ``tdsl init`` does by default; needs the default chain id and
    contract). Returns the ledger and the operator's first API token (shown once, stored hashed).
    """
    if deploy_embedded and (chain_id is not None or contract is not None or settings.rpc_url):
        raise ConfigError("the embedded chain is deployed only with the default chain id and contract, without TDSL_RPC_URL")
    check_origin(origin)  # before anything is written
    d = settings.data_dir
    d.mkdir(parents=True, exist_ok=True)
    if (d / IDENTITY).exists():
        raise ConfigError(f"{d} already holds a ledger ({d / IDENTITY} exists)")
    if settings.operator_key is not None:
        key = load_operator_key(settings)
    else:
        if settings.keystore_password is None:
            raise ConfigError("set TDSL_KEYSTORE_PASSWORD (to encrypt the new operator key) or TDSL_OPERATOR_KEY")
        from eth_account import (
            Account,  # slow to import; only init and unlocking need it
        )

        key = os.urandom(32)
        keystore = Account.encrypt(key, settings.keystore_password.get_secret_value())
        write_private_file(d / KEYSTORE, json.dumps(keystore))
    operator = address_of(key)
    signer = NoteSigner.generate(origin)
    write_private_file(d / NOTE_KEY, signer.to_private_key_text() + "\n")
    identity = Identity(
        origin=origin,
        chain_id=EMBEDDED_CHAIN_ID if chain_id is None else chain_id,
        contract=contract or first_contract_address(operator),
        note_key=signer.verifier_key_text,
        operator=operator,
    )
    store = SQLStore(settings.resolved_database_url())
    store.create_schema()
    log = store.create_log(
        origin=origin, chain_id=identity.chain_id, contract=identity.contract, operator=operator,
        note_vkey=identity.note_key,
    )
    ledger = Ledger(store, log, note_signer=signer)
    register_participant(
        ledger, key, address=operator, name="Ledger operator", legal_id=("OTHER", origin), roles=["operator"]
    )
    if deploy_embedded:
        from ledger.chain.access import deploy_embedded as deploy

        deployed = deploy(settings, key, origin)
        if deployed != identity.contract:
            raise ConfigError(f"the registry was deployed at {deployed}, not at {identity.contract} as the domain says")
    (d / IDENTITY).write_text(json.dumps(identity.to_json(), indent=2) + "\n")
    token = ledger.issue_token(operator, "operator (created by tdsl init)")
    return ledger, token


def open_data_dir(settings: Settings) -> Ledger:
    """Open an initialised data directory for serving (with the note signing key)."""
    identity = Identity.from_file(settings.data_dir / IDENTITY)
    store = SQLStore(settings.resolved_database_url())
    store.create_schema()  # a database of an earlier release gains the tables and columns added since
    try:
        log = store.get_log(identity.origin)
    except NotFound as e:
        raise ConfigError(f"the database has no log {identity.origin!r}; run `tdsl init`") from e
    if (log.chain_id, log.contract, log.note_vkey) != (identity.chain_id, identity.contract, identity.note_key):
        raise ConfigError(f"{settings.data_dir / IDENTITY} does not match the log stored in the database")
    try:
        signer = NoteSigner.from_private_key_text((settings.data_dir / NOTE_KEY).read_text().strip())
    except OSError as e:
        raise ConfigError(f"cannot read the note key: {e}") from e
    if signer.verifier_key_text != log.note_vkey:
        raise ConfigError("the note key in the data directory is not the log's note key")
    ledger = Ledger(store, log, note_signer=signer)
    if log.effects_version != EFFECTS_VERSION:  # a log from before index terms, edges and derived state
        ledger.rebuild_effects()
    return ledger


def signed_submission(
    ledger: Ledger, key: bytes, *, kind: str, payload: object, parents: tuple[str, ...] = (),
    record_id: str | None = None, visibility: str | None = None, issued_at: str | None = None,
) -> Submission:
    """A submission for ``ledger``'s log signed with ``key`` (used by init, demo and tests)."""
    return Submission.sign(
        origin=ledger.origin, domain=ledger.domain, private_key=key, kind=kind, payload=payload,
        parents=parents, record_id=record_id, visibility=visibility, issued_at=issued_at,
    )


def register_participant(
    ledger: Ledger, operator_key: bytes, *, address: str, name: str, legal_id: tuple[str, str], roles: list[str]
) -> None:
    payload = {
        "address": address,
        "name": name,
        "legal_id": {"scheme": legal_id[0], "value": legal_id[1]},
        "roles": roles,
    }
    ledger.submit([signed_submission(ledger, operator_key, kind="participant", payload=payload)])
