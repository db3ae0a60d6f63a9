"""The demo data space of ``tdsl demo``: a small, repeatable ledger to try the API on.

Five participants, registered by the operator, each with a fresh secp256k1 key and an
API token kept under ``<data_dir>/demo/`` (mode 0600):

- ``battery-maker`` — a battery pack maker exporting into the EU (provider, producer,
  exporter; EORI);
- ``cell-supplier`` — its cell maker (provider, producer; USCC);
- ``cathode-supplier`` — the cell maker's cathode material supplier (producer; USCC);
- ``regulator`` — a market-surveillance authority (regulator; LEI);
- ``pack-analytics`` — a consumer of the cell maker's test data (consumer; LEI).

two ``dataset`` records, a supply chain of footprints (``ledger.demo_footprints``):
cathode → cell → pack, each rolled up from the one below and disclosed to its customer,
and a data contract on the cell test results with access events, some of which break it
(``ledger.demo_contracts``). Loading is idempotent step by step
(a key file, a registration, a token file, a record that already exists is kept), so a
run that was interrupted completes on the next one and a complete space is left alone.
The operator key is only needed when a participant still has to be registered.

A data directory that holds a ledger not created by ``tdsl demo`` (no ``demo/``
directory) is refused: demo participants and records never go into a real log.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ledger.config import Settings
from ledger.datadir import (
    IDENTITY,
    Identity,
    init_data_dir,
    load_operator_key,
    open_data_dir,
    register_participant,
    signed_submission,
    write_private_file,
)
from ledger.demo_contracts import load_contracts
from ledger.demo_footprints import FOOTPRINTS, load_footprints
from ledger.demo_passports import ISSUER, PASSPORT_ID, load_passport
from ledger.envelope import address_of
from ledger.errors import ConfigError, NotFound
from ledger.log import Ledger

DEMO_ORIGIN = "demo.tds-ledger.example/log"
DEMO_DIR = "demo"
OPERATOR_TOKEN = "operator.token"


@dataclass(frozen=True, slots=True)
class DemoParticipant:
    name: str  # file stem under demo/
    display_name: str
    legal_id: tuple[str, str]
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoDataset:
    record_id: str
    author: str  # a DemoParticipant.name
    title: str
    content: bytes  # stands in for the data, which stays with its provider
    media_type: str
    location: str

    def payload(self) -> dict[str, str]:
        return {
            "title": self.title,
            "content_hash": "sha256:" + hashlib.sha256(self.content).hexdigest(),
            "media_type": self.media_type,
            "location": self.location,
        }


PARTICIPANTS = (
    DemoParticipant(
        "battery-maker", "Volta Pack Systems GmbH", ("EORI", "DE987654321000000"), ("provider", "producer", "exporter")
    ),
    DemoParticipant(
        "cell-supplier", "Jiangnan Cell Technology Co., Ltd.", ("USCC", "91320500MA1W2X3Y4Z"), ("provider", "producer")
    ),
    DemoParticipant(
        "regulator", "Battery Market Surveillance Authority", ("LEI", "529900DEMOREGULATR17"), ("regulator",)
    ),
    DemoParticipant(
        "cathode-supplier", "Ningde Cathode Materials Co., Ltd.", ("USCC", "91350900MA2Y3Z4A5B"), ("producer",)
    ),
    DemoParticipant("pack-analytics", "Pack Analytics BV", ("LEI", "724500DEMOPACKANLT42"), ("consumer",)),
)

DATASETS = (
    DemoDataset(
        "demo-cell-test-results-2026w12", "cell-supplier", "LFP cell test results, lot 2026-W12",
        b"demo: LFP 280Ah cell test results, lot 2026-W12\n", "text/csv",
        "https://data.cell-supplier.example/lots/2026-W12/tests.csv",
    ),
    DemoDataset(
        "demo-pack-bill-of-materials-v1", "battery-maker", "Battery pack VP-48 bill of materials",
        b"demo: VP-48 pack bill of materials, version 1\n", "application/json",
        "https://data.battery-maker.example/packs/VP-48/bom.json",
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoMember:
    name: str
    display_name: str
    address: str
    roles: tuple[str, ...]
    key_file: Path
    token_file: Path


@dataclass(slots=True)
class DemoSpace:
    """What ``load_demo`` found or made, for the CLI to print."""

    data_dir: Path
    identity: Identity
    created: bool = False  # the ledger was initialised by this run
    changed: bool = False  # something was added by this run
    operator_token_file: Path | None = None
    members: list[DemoMember] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    passport_uri: str = ""  # the demo passport's Digital Link URI
    passport_qr: Path | None = None  # its QR code (SVG; a PNG beside it)


def company_urn(name: str) -> str:
    """The PACT companyId of a demo participant: ``urn:<scheme>:<legal id>``."""
    p = next(p for p in PARTICIPANTS if p.name == name)
    return f"urn:{p.legal_id[0].lower()}:{p.legal_id[1]}"


def read_key_file(path: Path) -> bytes:
    """A secp256k1 private key saved as hex (optionally ``0x``-prefixed) in ``path``."""
    text = path.read_text().strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{path} does not hold a private key (32 bytes as 64 hex digits)")
    address_of(key)  # raises MalformedInput for a value that is not a secp256k1 scalar
    return key


def new_private_key() -> bytes:
    """32 random bytes that are a valid secp256k1 private key."""
    while True:
        key = os.urandom(32)
        try:
            address_of(key)
        except ValueError:  # 0 or >= n: astronomically rare
            continue
        return key


def load_demo(settings: Settings, *, origin: str = DEMO_ORIGIN) -> tuple[Ledger, DemoSpace]:
    """Initialise ``settings.data_dir`` if needed, load the demo data space once, seal.

    Returns the open ledger (with its note signer, ready to serve) and what is in the space.
    """
    d = settings.data_dir
    demo_dir = d / DEMO_DIR
    created = False
    if (d / IDENTITY).exists():
        if not demo_dir.is_dir():
            raise ConfigError(
                f"{d} holds a ledger that `tdsl demo` did not create; use another --data-dir for the demo"
            )
        ledger = open_data_dir(settings)
    else:
        # demo/ first: a run interrupted right after init is still recognised as the demo's.
        demo_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        ledger, operator_token = init_data_dir(settings, origin=origin, deploy_embedded=not settings.rpc_url)
        created = True
        write_private_file(demo_dir / OPERATOR_TOKEN, operator_token + "\n")
    space = DemoSpace(data_dir=d, identity=Identity.from_file(d / IDENTITY), created=created)
    if (demo_dir / OPERATOR_TOKEN).exists():
        space.operator_token_file = demo_dir / OPERATOR_TOKEN

    operator_key: bytes | None = None
    keys: dict[str, bytes] = {}
    for p in PARTICIPANTS:
        key_file = demo_dir / f"{p.name}.key"
        if key_file.exists():
            key = read_key_file(key_file)
        else:
            key = new_private_key()
            write_private_file(key_file, key.hex() + "\n")
            space.changed = True
        keys[p.name] = key
        address = address_of(key)
        if ledger.participant(address) is None:
            if operator_key is None:
                operator_key = load_operator_key(settings)
            register_participant(
                ledger, operator_key, address=address, name=p.display_name, legal_id=p.legal_id, roles=list(p.roles)
            )
            space.changed = True
        token_file = demo_dir / f"{p.name}.token"
        if not token_file.exists():
            write_private_file(token_file, ledger.issue_token(address, f"demo {p.name}") + "\n")
            space.changed = True
        space.members.append(DemoMember(p.name, p.display_name, address, p.roles, key_file, token_file))

    for ds in DATASETS:
        try:
            ledger.record(ds.record_id, ledger.viewer_for(ledger.log.operator))
        except NotFound:
            sub = signed_submission(
                ledger, keys[ds.author], kind="dataset", payload=ds.payload(), record_id=ds.record_id
            )
            ledger.submit([sub])
            space.changed = True
        space.record_ids.append(ds.record_id)

    members = {m.name: (m.address, company_urn(m.name), m.display_name) for m in space.members}
    space.changed |= load_footprints(ledger, keys, members)
    space.record_ids += [f.pf_id for f in FOOTPRINTS]
    changed, contract_ids = load_contracts(ledger, keys, {m.name: m.address for m in space.members})
    space.changed |= changed
    space.record_ids += contract_ids
    maker = next(m for m in space.members if m.name == ISSUER)
    changed, space.passport_uri, space.passport_qr = load_passport(
        ledger, keys, issuer_name=maker.display_name, public_url=settings.public_url, qr_dir=demo_dir
    )
    space.changed |= changed
    space.record_ids.append(PASSPORT_ID)
    ledger.seal()
    return ledger, space
