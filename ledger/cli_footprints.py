"""``tdsl`` commands for footprints: ``submit --component`` (the roll-up built for the
user) and ``lineage`` (a tree in the terminal, an SVG with ``--svg``).

Like ``submit`` and ``receipt``, both talk to a server (``--url``, ``--token``) unless
``--data-dir`` is given, in which case they read the data directory as its operator.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ledger import cli_http
from ledger.datadir import open_data_dir
from ledger.errors import InvalidRecord
from ledger.lineage_render import RenderEdge, RenderNode, render_svg, render_text
from ledger.pcf_builder import Component, parse_component_flag, with_lineage

Lookup = Callable[[str], dict[str, Any]]  # record id → the record's JSON as the caller sees it


def _lookup(args: argparse.Namespace, settings: Callable[[], Any]) -> Lookup:
    if args.data_dir is not None:
        ledger = open_data_dir(settings())
        operator = ledger.viewer_for(ledger.log.operator)
        return lambda record_id: ledger.record(record_id, operator).to_json()
    url = args.url.rstrip("/")
    return lambda record_id: cli_http.get_record(url, record_id, token=args.token)


def rolled_up(args: argparse.Namespace, payload: Any, lookup: Lookup) -> tuple[Any, tuple[str, ...]]:
    """``payload`` with its roll-up from ``--component`` flags, and the parents to sign."""
    if args.kind != "pcf":
        raise InvalidRecord(f"--component builds a pcf roll-up; --kind is {args.kind}")
    components = []
    for flag in args.component:
        pf_id, qty = parse_component_flag(flag)
        record = lookup(pf_id)
        if record.get("kind") != "pcf" or "payload" not in record:
            raise InvalidRecord(f"component {pf_id}: not a footprint whose payload you may read")
        components.append(Component(record["payload"], record["leaf_hash"], qty))
    if not isinstance(payload, dict):
        raise InvalidRecord("the footprint file must hold a JSON object")
    built = with_lineage(payload, components, max_places=args.places)
    if args.id is None:
        args.id = built.get("id")
    return built, tuple(c.leaf_hash for c in components)


def cmd_disclose(args: argparse.Namespace, settings: Callable[[], Any]) -> int:
    """Disclose a record's payload to participants, or withdraw that (the author only)."""
    if args.data_dir is not None:
        from ledger.demo import read_key_file
        from ledger.envelope import address_of

        if args.key_file is None:
            raise InvalidRecord("with --data-dir, give the author's --key-file: only the author discloses")
        ledger = open_data_dir(settings())
        author = ledger.viewer_for(address_of(read_key_file(args.key_file)))
        if args.withdraw:
            for a in args.withdraw:
                ledger.withdraw_disclosure(args.record_id, a, author)
            grantees = ledger.disclosures(args.record_id, author)
        else:
            grantees = ledger.disclose(args.record_id, args.to, author)
    else:
        url = args.url.rstrip("/")
        if args.withdraw:
            for a in args.withdraw:
                answer = cli_http.withdraw_disclosure(url, args.record_id, a, token=args.token)
            grantees = answer["grantees"]
        else:
            grantees = cli_http.disclose(url, args.record_id, args.to, token=args.token)["grantees"]
    print(json.dumps({"id": args.record_id, "grantees": grantees}, indent=2), flush=True)
    return 0


def _nodes_and_edges(graph: dict[str, Any]) -> tuple[list[RenderNode], list[RenderEdge]]:
    nodes = []
    for n in graph["nodes"]:
        if not n["visible"]:
            nodes.append(RenderNode(n["leaf_hash"], "", hidden=True))
            continue
        status = f" · {n['status']}" if n.get("status") else ""
        nodes.append(RenderNode(n["leaf_hash"], str(n["id"]), f"{n['kind']}{status} · {str(n['author'])[:10]}…"))
    edges = [RenderEdge(e["source"], e["target"], e["type"]) for e in graph["edges"]]
    return nodes, edges


def cmd_lineage(args: argparse.Namespace, settings: Callable[[], Any]) -> int:
    if args.data_dir is not None:
        ledger = open_data_dir(settings())
        graph = ledger.lineage(args.record_id, ledger.viewer_for(ledger.log.operator), direction=args.direction,
                               depth=args.depth).to_json()  # fmt: skip
    else:
        graph = cli_http.get_lineage(args.url.rstrip("/"), args.record_id, direction=args.direction,
                                     depth=args.depth, token=args.token)  # fmt: skip
    nodes, edges = _nodes_and_edges(graph)
    if args.json:
        sys.stdout.write(json.dumps(graph, indent=2) + "\n")
    else:
        ways = ("ancestors", "descendants") if args.direction == "both" else (args.direction,)
        for way in ways:
            print(render_text(nodes, edges, graph["root"], direction=way), flush=True)
    if graph.get("truncated"):
        print(f"(truncated at depth {graph['depth']}; pass --depth to see more)", file=sys.stderr)
    if args.svg is not None:
        args.svg.write_text(render_svg(nodes, edges, graph["root"]))
        print(f"wrote the lineage of {args.record_id} to {args.svg}", file=sys.stderr)
    return 0
