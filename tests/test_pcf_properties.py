"""Hypothesis: random bills of materials (depth ≤ 6, width ≤ 20). Every honest tree is
admitted; a single perturbed quantity or declared value anywhere is refused, and nothing
of the refused footprint is stored. Sized by ``TDSL_PCF_EXAMPLES`` (default 40)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidRecord
from pcf_support import FIELDS, footprint, leaf_of, product_footprint
from test_pcf import make_chain

EXAMPLES = int(os.environ.get("TDSL_PCF_EXAMPLES", "40"))
MAX_NODES = 60


@dataclass
class Node:
    children: list[tuple["Node", str]] = field(default_factory=list)  # (component, quantity)
    values: tuple[str, str, str] = ("1", "1", "1")
    amount: str = "1"


_decimal = st.builds(lambda n, p: f"{n / 10**p:.{p}f}", st.integers(10, 99_999), st.integers(2, 3))


@st.composite
def trees(draw, depth: int = 6, budget: list[int] | None = None) -> Node:
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    node = Node(values=(draw(_decimal), draw(_decimal), draw(_decimal)), amount=draw(st.sampled_from(["1", "2", "0.5", "10"])))
    if depth == 0 or budget[0] <= 0:
        return node
    width = draw(st.integers(0, min(20, budget[0])))
    for _ in range(width):
        if budget[0] <= 0:
            break
        qty = draw(st.builds(lambda n, p: f"{n / 10**p:.{p}f}", st.integers(1, 5000), st.integers(0, 3)))
        node.children.append((draw(trees(depth - 1, budget)), qty))
    return node


def depth_of(node: Node) -> int:
    return 1 + max((depth_of(c) for c, _ in node.children), default=0)


def build(node: Node, out: list[tuple[dict, list[dict]]]) -> dict:
    """Post-order: each footprint after its components; returns this node's footprint."""
    comps = [(build(child, out), qty) for child, qty in node.children]
    if comps:
        fp = product_footprint(comps, own={f: "0.25" for f in FIELDS}, places=6, amount=node.amount)
    else:
        fp = footprint(values=node.values, amount=node.amount, pf_id=str(uuid.uuid4()))
    out.append((fp, [c for c, _ in comps]))
    return fp


def _perturb(fp: dict, choice: int) -> tuple[dict, str]:
    bad = {**fp, "pcf": dict(fp["pcf"])}
    n_comps = len(fp["extensions"][0]["data"]["components"])
    if choice % 2 == 0:  # a declared value one unit up in its last place
        f = FIELDS[choice // 2 % 3]
        text = fp["pcf"][f]
        ulp = Decimal(1).scaleb(-len(text.partition(".")[2]))
        bad["pcf"][f] = format((Decimal(text) + ulp).quantize(ulp), "f")
        return bad, f
    i = choice // 2 % n_comps  # a component's quantity up by one whole unit
    ext = {**fp["extensions"][0], "data": {**fp["extensions"][0]["data"]}}
    comps = [dict(c) for c in ext["data"]["components"]]
    comps[i]["quantity"] = str(Decimal(comps[i]["quantity"]) + 1)
    ext["data"]["components"] = comps
    bad["extensions"] = [ext]
    return bad, "roll-up"


def test_honest_trees_are_admitted_and_single_perturbations_refused(tmp_path: Path, sqlite_url: str):
    c = make_chain(tmp_path, sqlite_url)
    lg = c.ledger
    seen_depths: set[int] = set()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(tree=trees(), pick=st.integers(0, 10_000), choice=st.integers(0, 10_000))
    def run(tree: Node, pick: int, choice: int) -> None:
        seen_depths.add(depth_of(tree))
        order: list[tuple[dict, list[dict]]] = []
        build(tree, order)
        internal = [i for i, (_, comps) in enumerate(order) if comps]
        target = internal[pick % len(internal)] if internal else None
        leaves: dict[str, str] = {}
        for i, (fp, comps) in enumerate(order):
            parents = tuple(leaves[x["id"]] for x in comps)
            if i == target:
                bad, what = _perturb(fp, choice)
                size = lg.tree_size()
                with pytest.raises(InvalidRecord) as info:
                    lg.submit([c.cells.sign(lg, bad, parents)])
                assert ("roll-up" in str(info.value)) and (what == "roll-up" or what in str(info.value))
                assert lg.tree_size() == size
            sub = c.cells.sign(lg, fp, parents)
            [appended] = lg.submit([sub])
            assert not appended.duplicate
            leaves[fp["id"]] = leaf_of(sub)

    run()
    assert max(seen_depths) >= 3, f"the strategy never built a deep tree: depths {sorted(seen_depths)}"
    assert lg.audit_effects().findings == ()
