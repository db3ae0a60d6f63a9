"""The ``tdsl`` commands: each takes the parsed arguments, calls the library, prints.

A command returns the exit code; failures raise and ``ledger.cli.main`` turns them into
one line on stderr and exit code 1 (``UsageError``: exit code 2). ``verify`` lives in
``ledger.cli_verify`` (it must start fast), where every failure is its answer, printed as
``invalid: <reason>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ledger import cli_footprints, cli_http, demo_contracts
from ledger.canonical import parse_json
from ledger.config import Settings
from ledger.datadir import (
    IDENTITY,
    Identity,
    init_data_dir,
    load_operator_key,
    open_data_dir,
    register_participant,
    write_private_file,
)
from ledger.demo_footprints import FOOTPRINTS
from ledger.demo import (
    DEMO_DIR,
    DEMO_ORIGIN,
    load_demo,
    new_private_key,
    read_key_file,
)
from ledger.chain.access import deploy_rpc, embedded_chain_path, open_chain, rpc_chain_id, serving_chain
from ledger.chain.anchorer import anchorer_for
from ledger.envelope import Domain, address_of
from ledger.cli_verify import UsageError
from ledger.errors import Conflict, ConfigError
from ledger.log import Ledger
from ledger.submission import Submission


def _settings(args: argparse.Namespace) -> Settings:
    """``TDSL_*`` settings, with ``--data-dir`` taking precedence over ``TDSL_DATA_DIR``."""
    if args.data_dir is not None:
        return Settings(data_dir=args.data_dir)
    return Settings()


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print_identity(identity: Identity) -> None:
    _out(f"origin:    {identity.origin}")
    _out(f"chain id:  {identity.chain_id}")
    _out(f"contract:  {identity.contract}")
    _out(f"note key:  {identity.note_key}")
    _out(f"operator:  {identity.operator}")


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# -- init, serve, demo ---------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    embedded = args.chain_id is None and args.contract is None and not settings.rpc_url
    chain_id = args.chain_id
    if settings.rpc_url and chain_id is None:
        chain_id = rpc_chain_id(settings)  # the node's: the log's EIP-712 domain is bound to it
    _, token = init_data_dir(
        settings, origin=args.origin, chain_id=chain_id, contract=args.contract, deploy_embedded=embedded
    )
    identity = Identity.from_file(settings.data_dir / IDENTITY)
    _out(f"initialised a ledger in {settings.data_dir}")
    _print_identity(identity)
    _out(f"identity:  {settings.data_dir / IDENTITY}  (give this file to verifiers)")
    _out()
    _out("operator API token (shown once; only its hash is stored):")
    _out(token)
    return 0


def _serve(ledger: Ledger, settings: Settings, host: str, port: int, workers: int = 1) -> int:
    try:
        from api.app import create_app
    except ImportError as e:
        raise ConfigError(f"the HTTP API cannot be loaded (package api): {e}") from e
    import uvicorn

    chain = serving_chain(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract)
    if chain.open is not None:
        chain.open().close()  # at start, not in a sealer's log: a wrong chain id, a look-alike contract, a chain in use
    _out(chain.note)
    url = _base_url(host, port)
    _out(f"serving log {ledger.origin} at {url}/v1  (API docs: {url}/docs)" + (f" with {workers} workers" if workers > 1 else ""))
    if workers == 1:
        app = create_app(ledger, settings, start_sealer=True, open_chain=chain.open)
        uvicorn.run(app, host=host, port=port, log_level="info")
        return 0
    # Each worker is a process of its own that opens the data directory from the TDSL_*
    # environment (api.app.app_from_environment); --data-dir reaches them through it.
    ledger.store.close()
    os.environ["TDSL_DATA_DIR"] = str(settings.data_dir.resolve())
    uvicorn.run("api.app:app_from_environment", factory=True, workers=workers, host=host, port=port, log_level="info")
    return 0


def cmd_chain_deploy(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ledger = open_data_dir(settings)
    done = deploy_rpc(
        settings, operator_key=load_operator_key(settings), origin=ledger.origin,
        chain_id=ledger.log.chain_id, contract=ledger.log.contract,
    )  # fmt: skip
    _out(done)
    return 0


def seal_and_anchor(settings: Settings, ledger: Ledger):
    """Seal a checkpoint now and anchor it, waiting for the chain: ``(checkpoint, anchor or None)``."""
    chain = open_chain(
        settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract, operator_key=load_operator_key(settings)
    )
    lock = ledger.try_lock_sealer()
    if lock is None:
        chain.close()
        raise Conflict("another process runs the sealer and anchorer of this log (`tdsl serve`?): it seals and "
                       "anchors on its own; stop it to anchor by hand")  # fmt: skip
    try:
        with lock:
            cp = ledger.seal()
            anchor = anchorer_for(ledger, chain).anchor_and_wait()
    finally:
        chain.close()
    return cp, anchor


def cmd_anchor(args: argparse.Namespace) -> int:
    settings = _settings(args)
    cp, anchor = seal_and_anchor(settings, open_data_dir(settings))
    if anchor is None:
        _out("nothing to anchor: the log has no checkpoint")
        return 0
    _out(f"anchored checkpoint {cp.tree_size} in {anchor.tx_hash} (block {anchor.block_number}, {anchor.status})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return _serve(open_data_dir(settings), settings, args.host, args.port, args.workers)


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ledger, space = load_demo(settings, origin=args.origin or DEMO_ORIGIN)
    url = _base_url(args.host, args.port)
    if space.created:
        _out(f"initialised a demo ledger in {space.data_dir}")
    _out("loaded the demo data space" if space.changed else "the demo data space is already loaded")
    _print_identity(space.identity)
    _out()
    _out("participants (keys and API tokens under " + str(space.data_dir / DEMO_DIR) + "):")
    for m in space.members:
        _out(f"  {m.name:16} {m.address}  {','.join(m.roles):27} {m.display_name}")
    _out("records: " + ", ".join(space.record_ids))
    _out()
    _out(f"API:  {url}/v1")
    _out(f"docs: {url}/docs")
    _out("try this:")
    _out(f"  curl {url}/v1/log")
    member = space.members[0]
    _out(f"  tdsl receipt {FOOTPRINTS[-1].pf_id} --url {url} --token \"$(cat {member.token_file})\" -o receipt.json")
    _out(
        f"  tdsl verify receipt.json --origin {space.identity.origin} --identity {space.data_dir / IDENTITY}"
        f" --chain-db {embedded_chain_path(settings)}"
    )
    _out(f"  ({member.name}'s API token is in {member.token_file}, its key in {member.key_file})")
    pack = FOOTPRINTS[-1]
    _out("the battery pack's footprint, rolled up from its cells and their cathode material:")
    _out(f"  tdsl lineage {pack.pf_id} --url {url} --token \"$(cat {member.token_file})\" --svg pack-lineage.svg")
    _out(f"  curl {url}/v1/records/{pack.pf_id}/lineage")
    regulator = next(m for m in space.members if m.name == "regulator")
    _out("the regulator's view of the access events that broke their data contract:")
    _out(f"  curl -H \"Authorization: Bearer $(cat {regulator.token_file})\" {url}/v1/violations")
    _out(f"  curl -H \"Authorization: Bearer $(cat {regulator.token_file})\" {url}/v1/contracts/{demo_contracts.AGREEMENT}")
    _out("the battery pack's digital product passport (scan the QR code, or open the link):")
    _out(f"  {space.passport_uri}")
    _out(f"  QR code: {space.passport_qr} (and .png beside it)")
    if space.operator_token_file is not None:
        _out(f"  (operator token: {space.operator_token_file})")
    _out()
    return _serve(ledger, settings, args.host, args.port)


# -- keys, participants, tokens ------------------------------------------------------


def cmd_keys_new(args: argparse.Namespace) -> int:
    key = new_private_key()
    if args.out is not None:
        try:
            write_private_file(args.out, key.hex() + "\n")
        except FileExistsError:
            raise ConfigError(f"{args.out} exists; refusing to overwrite a key file") from None
        _out(f"wrote a new private key to {args.out}")
    else:
        _out(f"private key: {key.hex()}")
    _out(f"address: {address_of(key)}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """The store audit (raises ``CorruptStore``), then the recomputation of every derived
    effect: exit 1 naming each difference between the log and the cached rows."""
    ledger = open_data_dir(_settings(args))
    report = ledger.audit()
    _out(
        f"ok: {report.tree_size} entries, {report.tiles_checked} tiles and "
        f"{report.checkpoints_checked} checkpoints verified"
    )
    effects = ledger.audit_effects()
    for line in effects.unverifiable:
        _out(f"unverifiable: {line}")
    for line in effects.findings:
        _err(f"finding: {line}")
    if effects.findings:
        _err(f"audit failed: {len(effects.findings)} finding(s) in the derived index terms, edges and states")
        return 1
    _out(f"ok: index terms, edges and derived states of {effects.records} records recomputed from the log; "
         "they match the cached rows")  # fmt: skip
    return 0


def cmd_keys_note(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _out(Identity.from_file(settings.data_dir / IDENTITY).note_key)
    return 0


def cmd_participant_add(args: argparse.Namespace) -> int:
    scheme, sep, value = args.legal_id.partition(":")
    if not sep or not scheme or not value:
        raise UsageError(f"--legal-id must be SCHEME:VALUE (e.g. LEI:5299...), got {args.legal_id!r}")
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    settings = _settings(args)
    ledger = open_data_dir(settings)
    register_participant(
        ledger, load_operator_key(settings), address=args.address, name=args.name, legal_id=(scheme, value), roles=roles
    )
    _out(f"registered {args.address} ({args.name}) with roles: {', '.join(roles) or '(none: deactivated)'}")
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    ledger = open_data_dir(_settings(args))
    token = ledger.issue_token(args.address, args.label)
    print(f"API token for {args.address} (shown once; only its hash is stored):", file=sys.stderr)
    _out(token)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    ledger = open_data_dir(_settings(args))
    ledger.revoke_token(args.token, ledger.viewer_for(ledger.log.operator))  # an operator action
    _out("revoked")
    return 0


# -- submit, receipt -----------------------------------------------------------------


def _sign(args: argparse.Namespace, origin: str, domain: Domain, payload: Any) -> Submission:
    parents = tuple(p.lower() for p in args.parent)
    if args.component:
        payload, built = cli_footprints.rolled_up(args, payload, cli_footprints._lookup(args, lambda: _settings(args)))
        parents = built + parents
    elif args.kind == "pcf" and args.id is None and isinstance(payload, dict) and isinstance(payload.get("id"), str):
        args.id = payload["id"]  # a footprint's record id is its own id
    return Submission.sign(
        origin=origin, domain=domain, private_key=read_key_file(args.key_file), kind=args.kind,
        payload=payload, parents=parents, record_id=args.id, visibility=args.visibility,
    )


def cmd_disclose(args: argparse.Namespace) -> int:
    return cli_footprints.cmd_disclose(args, lambda: _settings(args))


def cmd_lineage(args: argparse.Namespace) -> int:
    return cli_footprints.cmd_lineage(args, lambda: _settings(args))


def _remote_domain(info: dict[str, Any]) -> tuple[str, Domain]:
    try:
        origin, chain_id, contract = info["origin"], info["chain_id"], info["contract"]
    except KeyError as e:
        raise cli_http.RemoteError(f"GET /v1/log does not name the log's {e.args[0]}") from e
    if not isinstance(origin, str):
        raise cli_http.RemoteError("GET /v1/log: origin is not a string")
    return origin, Domain(chain_id=chain_id, verifying_contract=contract)


def cmd_submit(args: argparse.Namespace) -> int:
    payload = parse_json(args.payload.read_bytes())
    if args.data_dir is not None:
        ledger = open_data_dir(_settings(args))
        appended = ledger.submit([_sign(args, ledger.origin, ledger.domain, payload)])[0]
        result: Any = {
            "id": appended.record_id,
            "leaf_index": appended.leaf_index,
            "leaf_hash": appended.leaf_hash.hex(),
            "duplicate": appended.duplicate,
        }
    else:
        url = args.url.rstrip("/")
        origin, domain = _remote_domain(cli_http.get_log(url))
        sub = _sign(args, origin, domain, payload)
        result = cli_http.post_record(url, sub.to_json(), token=args.token)
    _out(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def cmd_receipt(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        ledger = open_data_dir(_settings(args))
        # Whoever holds the data directory is the operator: the receipt includes the payload.
        receipt: Any = ledger.receipt(args.record_id, ledger.viewer_for(ledger.log.operator)).to_json()
    else:
        receipt = cli_http.get_receipt(args.url.rstrip("/"), args.record_id, token=args.token)
    text = json.dumps(receipt, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        args.output.write_text(text)
        print(f"wrote the receipt of {args.record_id} to {args.output}", file=sys.stderr)
    return 0


# -- verify --------------------------------------------------------------------------


