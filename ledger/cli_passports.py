"""``tdsl passport issue`` and ``tdsl passport revoke`` (DESIGN §8, §12).

``issue --footprint PF_ID --facts FACTS.yaml``: reads the product's footprint from the
ledger, builds the UNTP credential from it and the product facts
(``ledger.passport_builder``: the scorecard from the footprint, the Digital Link URI and
the issuer's did:web at ``--public-url``, the next free index of the issuer's status
list), signs it as VC-JOSE with ``--key-file`` in this process, and submits the passport
record (parents: the footprint, and with ``--supersede ID`` the passport it replaces).
Prints the record id, the Digital Link URI and the QR code's URL; ``--jwt-out FILE``
also writes the ``vc+jwt``. ``revoke PASSPORT_ID [--reason TEXT]`` submits a
``passport_revocation``. Both talk to a server (``--url``/``--token``) or, with
``--data-dir``, to the data directory as its operator does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ledger import passport_builder
from ledger.cli_commands import _out
from ledger.cli_contracts import Session, new_id, read_json_file
from ledger.demo import read_key_file
from ledger.errors import InvalidRecord, MalformedInput
from ledger.kinds.pcf import parse_pcf


def read_facts(path: Path) -> dict[str, Any]:
    """Product facts from a YAML or JSON file (a mapping)."""
    if path.suffix.lower() == ".json":
        return read_json_file(path, "product facts file")
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MalformedInput(f"cannot read the product facts file {path}: {e.strerror or e}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise MalformedInput(f"the product facts file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise MalformedInput(f"the product facts file {path} must hold a mapping, not {type(value).__name__}")
    return {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in value.items()}


def next_status_index(s: Session) -> int:
    """One past the highest status index of the author's passports (0 for the first)."""
    mine = [r for r in s.records("passport") if r.get("author", "").lower() == s.address.lower()]
    used = [int((r.get("state") or {}).get("facts", {}).get("status_index", -1)) for r in mine]
    return max(used, default=-1) + 1


def registered_name(s: Session) -> str:
    """The author's name in the ledger's participant directory (the address if not found)."""
    if s.ledger is not None:
        who = s.ledger.participant(s.address)
        return who.name if who is not None and who.name else s.address
    from ledger import cli_http

    listed = cli_http._call("GET", f"{s.url}/v1/participants", token=s.args.token)
    return next((p["name"] for p in listed if p.get("address", "").lower() == s.address.lower() and p.get("name")),
                s.address)  # fmt: skip


def cmd_passport_issue(args: argparse.Namespace) -> int:
    facts = read_facts(args.facts)
    s = Session(args)
    fp_record = s.record(args.footprint, "pcf", "footprint")
    fp = parse_pcf(s.payload(fp_record, "footprint")).view
    parents = [fp_record["leaf_hash"]]
    if args.supersede is not None:
        parents.append(s.record(args.supersede, "passport", "--supersede")["leaf_hash"])
    issued = passport_builder.build(facts, fp, private_key=read_key_file(args.key_file), issuer_name=args.issuer_name
                                    or registered_name(s), public_url=args.public_url, status_index=next_status_index(s))  # fmt: skip
    record_id = args.id or new_id()
    answer = s.submit("passport", issued.payload, parents, record_id)
    done = "already stored" if answer.get("duplicate") else "appended"
    uri = issued.link.uri(args.public_url)
    _out(f"{done} passport {answer['id']} at leaf {answer['leaf_index']}")
    _out(f"digital link: {uri}")
    _out(f"qr code: {args.public_url.rstrip('/')}/v1/qr.svg?link={issued.link.path()} (also .png)")
    if args.jwt_out is not None:
        args.jwt_out.write_text(issued.payload["vc_jwt"] + "\n")
        _out(f"wrote the vc+jwt to {args.jwt_out}")
    return 0


def cmd_passport_revoke(args: argparse.Namespace) -> int:
    s = Session(args)
    passport = s.record(args.passport_id, "passport", "passport")
    state = passport.get("state") or {}
    if state.get("status") == "revoked":
        raise InvalidRecord(f"passport {args.passport_id!r} is already revoked")
    payload = {"passport": passport["id"], "reason": args.reason}
    answer = s.submit("passport_revocation", payload, [passport["leaf_hash"]], new_id())
    _out(f"appended passport_revocation {answer['id']} at leaf {answer['leaf_index']}; {passport['id']} is revoked")
    return 0
