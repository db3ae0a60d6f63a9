"""``tdsl``: the TDS Ledger command line (DESIGN §7). Thin: parse, call the library, print.

Split as OpenTimestamps splits its CLI: the parser here, the commands in
``ledger.cli_commands``, the HTTP client calls in ``ledger.cli_http``, and a tiny ``main``.

Exit codes: 0 ok; 1 failure or invalid (one line on stderr, no traceback); 2 usage.

Configuration is ``ledger.config.Settings`` (``TDSL_*``); ``--data-dir`` overrides
``TDSL_DATA_DIR``. The client commands read ``TDSL_URL`` and ``TDSL_TOKEN``. ``submit`` and
``receipt`` talk to a server (``--url``) unless ``--data-dir`` is given, in which case they
use the data directory directly, as its operator.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

from ledger import __version__
from ledger.cli_verify import UsageError
from ledger.errors import LedgerError

DEFAULT_URL = "http://127.0.0.1:8000"


def _lazy(name: str, module: str = "ledger.cli_commands") -> Callable[[argparse.Namespace], int]:
    """The command ``name`` of ``module``, imported only when it runs: ``tdsl verify`` must
    not pay for the store, the API and web3 (issue 8: every call took about 2 s)."""

    def run(args: argparse.Namespace) -> int:
        return getattr(import_module(module), name)(args)

    run.__name__ = name
    return run


def _data_dir(p: argparse.ArgumentParser, *, help: str = "data directory (default: TDSL_DATA_DIR or ./data)") -> None:
    p.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help=help)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 64, got {text!r}")
    return value


def _server(p: argparse.ArgumentParser, *, port: int = 8000) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=port, help="port to listen on (default: %(default)s)")


def _remote(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--url", default=os.environ.get("TDSL_URL", DEFAULT_URL),
        help="ledger API base URL (default: TDSL_URL or %(default)s)",
    )  # fmt: skip
    where.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR",
        help="use this data directory directly (as its operator) instead of a server",
    )
    p.add_argument("--token", default=os.environ.get("TDSL_TOKEN"), help="API token (default: TDSL_TOKEN)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdsl",
        description="TDS Ledger: signed records in a verifiable Merkle log.",
        epilog="exit codes: 0 ok, 1 failure or invalid, 2 usage",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a data directory: keys, database, log, operator token")
    p.add_argument("--origin", required=True, help="the log's origin, e.g. example.com/log")
    p.add_argument("--chain-id", type=int, default=None, help="chain id of the anchor chain (default: embedded chain)")
    p.add_argument("--contract", default=None, help="registry contract address (default: operator's first deployment)")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_init"))

    p = sub.add_parser("serve", help="serve the HTTP API of a data directory")
    _server(p)
    p.add_argument(
        "--workers", type=_positive, default=1, metavar="N",
        help="server processes sharing the port (default 1); one of them seals and anchors, the others stand by",
    )  # fmt: skip
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_serve"))

    chain = sub.add_parser("chain", help="the anchor chain (TDSL_RPC_URL)").add_subparsers(
        dest="chain_command", required=True, metavar="SUBCOMMAND"
    )
    p = chain.add_parser("deploy", help="deploy the registry on TDSL_RPC_URL (if needed) and create the log there")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_chain_deploy"))

    p = sub.add_parser("anchor", help="seal a checkpoint now and anchor it on the log's chain")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_anchor"))

    # `tdsl audit` alone still means `tdsl audit store` (issue 11 adds export and verify).
    p = sub.add_parser("audit", help="re-verify a data directory (audit store, the default)",
                       description="tdsl audit store: re-verify every entry, tile, checkpoint and derived state "
                                   "of a data directory; `tdsl audit` with no subcommand does the same.")  # fmt: skip
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_audit"))
    audit = p.add_subparsers(dest="audit_command", required=False, metavar="SUBCOMMAND")
    q = audit.add_parser("store", help="re-verify every entry, tile, checkpoint and derived state of a data directory")
    # SUPPRESS: `tdsl audit --data-dir D store` keeps D (a subparser's default would replace it)
    q.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="data directory (default: TDSL_DATA_DIR or ./data)")  # fmt: skip
    q.set_defaults(func=_lazy("cmd_audit"))
    q = audit.add_parser("export", help="write the audit bundle of a period (DESIGN §11)",
                         description="Write the regulator's audit bundle: every entry between the anchored checkpoints "
                                     "around the period, the payloads of the records in scope, and their proofs.")  # fmt: skip
    q.add_argument("--since", required=True, help="period start: now, YYYY-MM-DD or RFC 3339 (e.g. 2026-11-01T00:00:00Z)")
    q.add_argument("--until", required=True, help="period end: now, YYYY-MM-DD or RFC 3339")
    q.add_argument("--participant", default=None, metavar="ADDR", help="records by this participant or about its contracts")
    q.add_argument("--agreement", default=None, metavar="ID", help="an agreement and the records under it")
    q.add_argument("--product", default=None, metavar="URN", help="footprints of a product and passports describing them")
    q.add_argument("--kind", default=None, metavar="KIND", help="records of this kind only")
    q.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the bundle (gzip if FILE ends .gz)")
    q.add_argument("--context-proofs", action="store_true",
                   help="a smaller bundle: earlier records the period's depend on come with inclusion proofs instead "
                        "of the range reaching back to them (their state history then rests on the ledger)")  # fmt: skip
    where = q.add_mutually_exclusive_group()
    where.add_argument("--url", default=None, help="ask this ledger's API (GET /v1/audit/bundle) instead of a data directory")
    where.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                       help="data directory, as its operator (default: TDSL_DATA_DIR or ./data)")  # fmt: skip
    q.add_argument("--token", default=os.environ.get("TDSL_TOKEN"), help="with --url: API token (default: TDSL_TOKEN)")
    q.set_defaults(func=_lazy("cmd_audit_export", "ledger.cli_audit"))
    q = audit.add_parser("verify", help="verify an audit bundle offline against the log identity you trust",
                         description="Check every signature, commitment and proof of an audit bundle, its anchors on "
                                     "the chain, and recompute every derived state. Exit 0 clean, 1 with findings or "
                                     "failures, 2 usage.")  # fmt: skip
    q.add_argument("bundle", metavar="BUNDLE")
    q.add_argument("--identity", type=Path, required=True, metavar="FILE", help="the log's identity.json you trust")
    where = q.add_mutually_exclusive_group()
    where.add_argument("--rpc", default=None, metavar="URL", help="JSON-RPC endpoint of the anchor chain")
    where.add_argument("--chain-db", type=Path, default=None, metavar="FILE", help="an embedded chain file (chain.db)")
    q.add_argument("--confirmations", type=int, default=0, metavar="N",
                   help="blocks required on top of an anchor for it to count as final where the chain has no "
                        "finalized tag (default 0)")  # fmt: skip
    q.add_argument("--json-report", type=Path, default=None, metavar="FILE", help="default: BUNDLE.report.json")
    q.add_argument("--html-report", type=Path, default=None, metavar="FILE", help="default: BUNDLE.report.html")
    q.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes in all: this one and N-1 recovering signatures (default: CPUs)")
    q.add_argument("--max-backdate-hours", type=float, default=24.0, metavar="H",
                   help="flag an issued_at more than H hours before the previous entry's (default 24)")  # fmt: skip
    q.set_defaults(func=_lazy("cmd_audit_verify", "ledger.cli_audit"))

    p = sub.add_parser("demo", help="load a small demo data space (once) and serve it")
    _server(p)
    p.add_argument("--origin", default=None, help="origin if a new ledger is created (default: the demo's)")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_demo"))

    keys = sub.add_parser("keys", help="participant keys and the log's note key").add_subparsers(
        dest="keys_command", required=True, metavar="SUBCOMMAND"
    )
    p = keys.add_parser("new", help="make a new secp256k1 participant key; print its address")
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the key as hex to FILE (mode 0600)")
    p.set_defaults(func=_lazy("cmd_keys_new"))
    p = keys.add_parser("note", help="print the log's note verifier key")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_keys_note"))

    participant = sub.add_parser("participant", help="register participants (operator)").add_subparsers(
        dest="participant_command", required=True, metavar="SUBCOMMAND"
    )
    p = participant.add_parser("add", help="register (or re-register) an address, signed by the operator key")
    p.add_argument("--address", required=True, help="the participant's EIP-55 address")
    p.add_argument("--name", required=True, help="legal name")
    p.add_argument(
        "--legal-id", required=True, metavar="SCHEME:VALUE", help="e.g. LEI:5299..., USCC:9132..., EORI:DE..."
    )
    p.add_argument("--roles", required=True, help="comma-separated, e.g. provider,producer")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_participant_add"))

    token = sub.add_parser("token", help="API tokens (operator)").add_subparsers(
        dest="token_command", required=True, metavar="SUBCOMMAND"
    )
    p = token.add_parser("issue", help="issue an API token for a registered address (printed once)")
    p.add_argument("--address", required=True)
    p.add_argument("--label", default="", help="a note to tell tokens apart")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_token_issue"))
    p = token.add_parser("revoke", help="revoke an API token")
    p.add_argument("token", metavar="TOKEN")
    _data_dir(p)
    p.set_defaults(func=_lazy("cmd_token_revoke"))

    p = sub.add_parser("submit", help="sign a record and submit it")
    p.add_argument("payload", type=Path, metavar="PAYLOAD.json")
    p.add_argument("--kind", required=True, help="record kind, e.g. dataset")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help="the author's private key (hex)")
    p.add_argument("--parent", action="append", default=[], metavar="HEX", help="leaf hash of a parent (repeatable)")
    p.add_argument("--id", default=None, help="record id (default: a new UUID)")
    p.add_argument("--visibility", choices=("public", "private"), default=None, help="default: the kind's")
    p.add_argument(
        "--component", action="append", default=[], metavar="PFID=QTY",
        help="pcf: a component footprint and its quantity per declared unit (repeatable); the file's own values "
        "become the product's own emissions and the roll-up is computed for you",
    )  # fmt: skip
    p.add_argument("--places", type=int, default=6, choices=range(0, 19), metavar="N",
                   help="pcf roll-up: round a total needing more than N decimal places (default: %(default)s)")  # fmt: skip
    _remote(p)
    p.set_defaults(func=_lazy("cmd_submit"))

    p = sub.add_parser("disclose", help="let participants read a record's payload, or withdraw that (its author)")
    p.add_argument("record_id", metavar="ID")
    act = p.add_mutually_exclusive_group(required=True)
    act.add_argument("--to", action="append", metavar="ADDRESS", help="a participant to disclose to (repeatable)")
    act.add_argument("--withdraw", action="append", metavar="ADDRESS", help="end the disclosure to ADDRESS (repeatable)")
    p.add_argument("--key-file", type=Path, default=None, metavar="KEYFILE",
                   help="with --data-dir: the author's private key, proving you are the author")  # fmt: skip
    _remote(p)
    p.set_defaults(func=_lazy("cmd_disclose"))

    key_help = "the author's private key (hex)"
    contract = sub.add_parser("contract", help="build, sign and submit the contract records (ODRL)").add_subparsers(
        dest="contract_command", required=True, metavar="SUBCOMMAND"
    )
    p = contract.add_parser("offer", help="offer a dataset under the ODRL rules of a file (provider)")
    p.add_argument("rules", type=Path, metavar="RULES.json", help="permission / prohibition / obligation (or a policy)")
    p.add_argument("--dataset", required=True, metavar="DATASET_ID", help="the record id of your dataset")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    p.add_argument("--id", default=None, help="the offer's @id (default: a new urn:uuid)")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_contract_offer", "ledger.cli_contracts"))
    p = contract.add_parser("request", help="accept an offer's exact terms (consumer)")
    p.add_argument("offer_id", metavar="OFFER_ID")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    p.add_argument("--id", default=None, help="record id (default: a new urn:uuid)")
    p.add_argument("--counter-party-address", default=None, metavar="URL",
                   help="the provider connector's DSP endpoint (default: the EDC samples')")  # fmt: skip
    p.add_argument("--counter-party-id", default=None, metavar="ID", help="the provider's id (default: the offer's assigner)")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_contract_request", "ledger.cli_contracts"))
    p = contract.add_parser("agree", help="conclude the agreement a request asks for (provider)")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    p.add_argument("--id", default=None, help="the agreement's @id (default: a new urn:uuid)")
    p.add_argument("--timestamp", default=None, metavar="T", help="when it was concluded, RFC 3339 (default: now)")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_contract_agree", "ledger.cli_contracts"))
    p = contract.add_parser("revoke", help="revoke an agreement in force (either party)")
    p.add_argument("agreement_id", metavar="AGREEMENT_ID")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    p.add_argument("--reason", default="", metavar="TEXT")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_contract_revoke", "ledger.cli_contracts"))

    p = sub.add_parser("access", help="record a use of a dataset under an agreement; print its verdict")
    p.add_argument("agreement_id", metavar="AGREEMENT_ID")
    p.add_argument("--action", required=True, metavar="A", help="an ODRL action, e.g. read, use, distribute")
    p.add_argument("--at", required=True, metavar="T", help="when, RFC 3339 UTC (e.g. 2026-06-01T10:00:00Z)")
    p.add_argument("--actor", default=None, metavar="ADDR", help="who (default: the author's address)")
    p.add_argument("--purpose", default=None, metavar="P")
    p.add_argument("--spatial", default=None, metavar="CC", help="where, ISO 3166 (e.g. DE)")
    p.add_argument("--transfer-process-id", default=None, metavar="ID", help="the DSP transfer process id")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    _remote(p)
    p.set_defaults(func=_lazy("cmd_access", "ledger.cli_contracts"))

    imports = sub.add_parser("import", help="turn a connector's message into the record it evidences").add_subparsers(
        dest="import_command", required=True, metavar="SUBCOMMAND"
    )
    p = imports.add_parser("dsp", help="a Dataspace Protocol agreement or transfer message (or EDC TransferRequestDto)")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    p.add_argument("--party", action="append", default=[], metavar="CONNECTOR_ID=ADDRESS",
                   help="agreement: the participant address of a connector id/IRI (repeatable)")  # fmt: skip
    p.add_argument("--request", default=None, metavar="REQUEST_ID",
                   help="agreement: the request it concludes (default: the only open one)")  # fmt: skip
    p.add_argument("--agreement", default=None, metavar="AGREEMENT_ID",
                   help="transfer: the agreement, when the message does not name it")  # fmt: skip
    p.add_argument("--action", default=None, metavar="A", help="transfer: the ODRL action (default: use)")
    p.add_argument("--at", default=None, metavar="T", help="transfer: when, RFC 3339 UTC (default: now)")
    p.add_argument("--actor", default=None, metavar="ADDR", help="transfer: who (default: the agreement's assignee)")
    p.add_argument("--purpose", default=None, metavar="P", help="transfer: the purpose")
    p.add_argument("--spatial", default=None, metavar="CC", help="transfer: where, ISO 3166")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_import_dsp", "ledger.cli_import"))

    passport = sub.add_parser("passport", help="issue or revoke a digital product passport (UNTP, VC-JOSE)").add_subparsers(
        dest="passport_command", required=True, metavar="SUBCOMMAND"
    )
    p = passport.add_parser("issue", help="build the credential from a footprint and product facts, sign it, submit it")
    p.add_argument("--footprint", required=True, metavar="PF_ID", help="the product's footprint (a pcf record id)")
    p.add_argument("--facts", required=True, type=Path, metavar="FACTS.yaml", help="product facts, YAML or JSON")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    p.add_argument("--public-url", default=os.environ.get("TDSL_PUBLIC_URL", "http://127.0.0.1:8000"), metavar="URL",
                   help="the ledger's public base URL: Digital Link and did:web (default: $TDSL_PUBLIC_URL)")  # fmt: skip
    p.add_argument("--issuer-name", default=None, metavar="NAME", help="the issuer's name in the credential")
    p.add_argument("--supersede", default=None, metavar="PASSPORT_ID", help="the passport this one replaces")
    p.add_argument("--id", default=None, help="record id (default: a new urn:uuid)")
    p.add_argument("--jwt-out", default=None, type=Path, metavar="FILE", help="also write the vc+jwt here")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_passport_issue", "ledger.cli_passports"))
    p = passport.add_parser("revoke", help="revoke a passport (its issuer)")
    p.add_argument("passport_id", metavar="PASSPORT_ID")
    p.add_argument("--reason", default="", metavar="TEXT")
    p.add_argument("--key-file", required=True, type=Path, metavar="KEYFILE", help=key_help)
    _remote(p)
    p.set_defaults(func=_lazy("cmd_passport_revoke", "ledger.cli_passports"))

    p = sub.add_parser("lineage", help="print a record's lineage tree, or write it as SVG")
    p.add_argument("record_id", metavar="ID")
    p.add_argument("--direction", choices=("ancestors", "descendants", "both"), default="ancestors")
    p.add_argument("--depth", type=int, default=16, choices=range(0, 65), metavar="N", help="levels (default: 16)")
    p.add_argument("--svg", type=Path, default=None, metavar="FILE", help="also write the graph as an SVG image")
    p.add_argument("--json", action="store_true", help="print the lineage JSON instead of the tree")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_lineage"))

    p = sub.add_parser("receipt", help="fetch a record's receipt")
    p.add_argument("record_id", metavar="RECORD_ID")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="write to FILE (default: stdout)")
    _remote(p)
    p.set_defaults(func=_lazy("cmd_receipt"))

    p = sub.add_parser(
        "verify", help="verify a receipt offline against the log identity you trust",
        description="The log's identity comes from --identity or the explicit flags, never from the receipt.",
    )  # fmt: skip
    p.add_argument("receipt", metavar="RECEIPT.json|VC.jwt|URL",
                   help="a receipt; or a passport: a vc+jwt file or its GS1 Digital Link URL")  # fmt: skip
    p.add_argument("--origin", required=True, help="the log's origin")
    p.add_argument(
        "--identity", type=Path, default=None, metavar="FILE", help="the log's identity.json (written by tdsl init)"
    )
    p.add_argument("--note-key", default=None, help="the log's note verifier key")
    p.add_argument("--chain-id", type=int, default=None, help="the log's anchor chain id")
    p.add_argument("--contract", default=None, help="the log's registry contract address")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--rpc", default=None, metavar="URL", help="JSON-RPC endpoint of the chain to check anchors on")
    where.add_argument(
        "--chain-db", type=Path, default=None, metavar="FILE",
        help="an embedded chain file (a ledger's data/chain.db, opened read-only) to check anchors on",
    )  # fmt: skip
    p.add_argument(
        "--confirmations", type=int, default=0, metavar="N",
        help="blocks required on top of the anchor's block (default 0: mined)",
    )
    p.add_argument("--did-document", type=Path, default=None, metavar="FILE",
                   help="a passport: the issuer's DID document, instead of resolving its did:web")  # fmt: skip
    p.add_argument("--no-status", action="store_true", help="a passport: do not fetch its status list")
    p.add_argument(
        "--require", choices=("anchored", "final"), default=None,
        help="exit 1 unless the chain shows the receipt's checkpoint anchored (mined or final), or final",
    )  # fmt: skip
    p.set_defaults(func=_lazy("cmd_verify", "ledger.cli_verify"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # usage error (2) or --help/--version (0)
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except UsageError as e:
        print(f"tdsl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (LedgerError, ValueError, OSError) as e:  # RemoteError is a LedgerError
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
