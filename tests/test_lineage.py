"""Lineage answers match the envelopes' ``parents`` for random DAGs (issue 7), on both
databases: nodes, their depth (shortest distance), typed edges with parent positions, and
hidden nodes for a viewer who may not see them. The reference walks the envelopes as the
log's tiles publish them, not the ledger's edge rows."""

from __future__ import annotations

import hashlib
import os
from collections import deque
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.access import ANONYMOUS
from ledger.datadir import signed_submission
from ledger.envelope import Envelope
from ledger_fixtures import make_world

EXAMPLES = int(os.environ.get("TDSL_LINEAGE_EXAMPLES", "25"))


@st.composite
def dags(draw) -> list[tuple[list[int], bool]]:
    """Nodes in log order: each the indexes of its earlier parents, and whether it is private."""
    n = draw(st.integers(1, 24))
    out = []
    for i in range(n):
        parents = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=min(i, 4))) if i else []
        out.append((parents, draw(st.booleans())))
    return out


def reference(parents_of: dict[str, list[str]], start: str, direction: str, depth: int):
    """BFS over the envelopes' parents: {leaf: depth}, {(source, target, position)}."""
    children: dict[str, list[tuple[str, int]]] = {}
    for src, ps in parents_of.items():
        for pos, p in enumerate(ps):
            children.setdefault(p, []).append((src, pos))
    seen = {start: 0}
    edges = set()
    for sign, up in ((1, True), (-1, False)):
        if (direction == "ancestors" and not up) or (direction == "descendants" and up):
            continue
        queue = deque([(start, 0)])
        while queue:
            node, d = queue.popleft()
            if d == depth:
                continue
            nxt = [(p, node, pos) for pos, p in enumerate(parents_of[node])] if up else \
                  [(src, src, pos) for src, pos in children.get(node, [])]  # fmt: skip
            for other, source, pos in nxt:
                target = other if up else node
                edges.add((source, target, pos))
                if other not in seen:
                    seen[other] = sign * (d + 1)
                    queue.append((other, d + 1))
    return seen, {e for e in edges if e[0] in seen and e[1] in seen}


def test_lineage_matches_the_envelopes_parents_for_random_dags(tmp_path: Path, database_url: str, request):
    w = make_world(tmp_path, database_url)
    request.addfinalizer(w.ledger.store.close)
    lg = w.ledger
    operator = lg.viewer_for(lg.log.operator)
    counter = [0]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(dag=dags(), pick=st.integers(0, 100), direction=st.sampled_from(["ancestors", "descendants", "both"]),
           depth=st.integers(0, 6))  # fmt: skip
    def run(dag, pick, direction, depth):
        leaves: list[str] = []
        subs = []
        for parents, private in dag:
            counter[0] += 1
            payload = {"title": f"dataset {counter[0]}", "content_hash": "sha256:" + hashlib.sha256(os.urandom(8)).hexdigest()}
            sub = signed_submission(lg, w.provider_key, kind="dataset", payload=payload,
                                    parents=tuple(leaves[p] for p in parents),
                                    visibility="private" if private else None)  # fmt: skip
            leaves.append(merkle.leaf_hash(sub.envelope.to_bytes()).hex())
            subs.append(sub)
        lg.submit(subs)  # one batch: parents earlier in the batch
        parents_of = {}
        for leaf, sub in zip(leaves, subs):
            stored = Envelope.from_json(lg.record(sub.envelope.id, operator).envelope.to_json())
            parents_of[leaf] = list(stored.parents)
        start = leaves[pick % len(leaves)]
        start_id = subs[pick % len(leaves)].envelope.id
        want_nodes, want_edges = reference(parents_of, start, direction, depth)
        graph = lg.lineage(start_id, operator, direction=direction, depth=depth)
        assert {n.leaf_hash: n.depth for n in graph.nodes} == want_nodes
        assert {(e.source, e.target, e.position) for e in graph.edges} == want_edges
        assert all(e.type == "supersedes" for e in graph.edges)
        private = {leaf for leaf, (_, p) in zip(leaves, dag) if p}
        if start not in private:
            anon = lg.lineage(start_id, ANONYMOUS, direction=direction, depth=depth)
            assert {n.leaf_hash for n in anon.nodes} == set(want_nodes)
            for n in anon.nodes:
                assert n.visible == (n.leaf_hash not in private)
                assert (n.record_id is None) == (n.leaf_hash in private)

    run()
