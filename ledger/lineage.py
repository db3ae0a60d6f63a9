"""Lineage: the graph of records one record derives from, and of those derived from it.

``lineage_graph`` walks the typed edges (``ledger.effects.Edge``; every envelope parent
is one) breadth first from the record, level by level — one query for the edges and one
for the entries per level — up to ``depth`` levels and ``MAX_NODES`` nodes.

- ``direction``: ``ancestors`` follows edges from a record to what it derives from (a
  pack's cells, their cathodes), ``descendants`` the other way (what was built from a
  supplier's footprint), ``both`` does both from the start record.
- A node the viewer may not see appears as its leaf hash only (``visible`` false); its
  own edges are still followed, since the log's tiles publish every envelope's parents.
- Every visible node links to its receipt (``receipt``: the API path).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ledger.access import Viewer, can_see_record
from ledger.effects import DerivedState
from ledger.errors import MalformedInput
from ledger.store import StoredEntry

if TYPE_CHECKING:
    from ledger.log import Ledger

MAX_DEPTH = 64
MAX_NODES = 10_000


class Direction(StrEnum):
    ANCESTORS = "ancestors"
    DESCENDANTS = "descendants"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class LineageNode:
    leaf_hash: str
    visible: bool
    depth: int  # levels from the start record: negative for descendants
    leaf_index: int | None = None  # the rest only when visible
    record_id: str | None = None
    kind: str | None = None
    author: str | None = None
    issued_at: str | None = None
    state: DerivedState | None = None

    def to_json(self) -> dict[str, Any]:
        if not self.visible:
            return {"leaf_hash": self.leaf_hash, "visible": False, "depth": self.depth}
        return {
            "leaf_hash": self.leaf_hash, "visible": True, "depth": self.depth, "leaf_index": self.leaf_index,
            "id": self.record_id, "kind": self.kind, "author": self.author, "issued_at": self.issued_at,
            "status": None if self.state is None else self.state.status,
            "receipt": f"/v1/records/{self.record_id}/receipt",
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class LineageEdge:
    source: str  # leaf hash of the record that derives
    target: str  # leaf hash of the record it derives from
    type: str
    position: int | None  # the target's place among the source envelope's parents

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "type": self.type, "position": self.position}


@dataclass(frozen=True, slots=True)
class LineageGraph:
    root: str  # leaf hash of the start record
    direction: Direction
    depth: int
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]
    truncated: bool  # stopped at ``depth`` or ``MAX_NODES`` with edges left to follow

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root, "direction": str(self.direction), "depth": self.depth, "truncated": self.truncated,
            "nodes": [n.to_json() for n in self.nodes], "edges": [e.to_json() for e in self.edges],
        }  # fmt: skip


def parse_direction(value: str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise MalformedInput(f"direction must be one of {[d.value for d in Direction]}, got {value!r}") from None


def lineage_graph(ledger: Ledger, start: StoredEntry, viewer: Viewer, *, direction: str, depth: int) -> LineageGraph:
    """The lineage of ``start`` (which the viewer may see); see the module docstring."""
    way = parse_direction(direction)
    if not 0 <= depth <= MAX_DEPTH:
        raise MalformedInput(f"depth must be 0..{MAX_DEPTH}, got {depth}")
    store, log = ledger.store, ledger.log.id
    entries: dict[int, StoredEntry] = {start.leaf_index: start}
    states: dict[int, DerivedState] = {}
    depth_of: dict[int, int] = {start.leaf_index: 0}
    edges: dict[tuple[int, int, str], int | None] = {}
    truncated = False
    for sign, walk_up in ((1, True), (-1, False)):
        if (way is Direction.ANCESTORS and not walk_up) or (way is Direction.DESCENDANTS and walk_up):
            continue
        frontier = [start.leaf_index]
        for level in range(1, depth + 2):
            if not frontier:
                break
            found = store.edges_from(log, frontier) if walk_up else store.edges_to(log, frontier)
            if level > depth:
                truncated = truncated or bool(found)
                break
            new: list[int] = []
            for e in found:
                edges[(e.source, e.target, e.type)] = e.position
                other = e.target if walk_up else e.source
                if other not in depth_of:
                    if len(depth_of) >= MAX_NODES:
                        truncated = True
                        continue
                    depth_of[other] = sign * level
                    new.append(other)
            for e, state in store.entry_heads(log, new):
                entries[e.leaf_index] = e
                if state is not None:
                    states[e.leaf_index] = state
            frontier = new
    kept = {i for i in depth_of if i in entries}
    disclosed = set()
    if viewer.address is not None and not viewer.is_privileged:
        disclosed = store.disclosed_to(log, [i for i in kept if entries[i].author != viewer.address], viewer.address)
    states.update(store.states(log, [start.leaf_index]))
    nodes = []
    for i in sorted(kept, key=lambda i: (abs(depth_of[i]), -depth_of[i], i)):
        e = entries[i]
        if can_see_record(e, viewer, disclosed=i in disclosed):
            nodes.append(LineageNode(e.leaf_hash.hex(), True, depth_of[i], i, e.record_id, e.kind, e.author,
                                     e.issued_at, states.get(i)))  # fmt: skip
        else:
            nodes.append(LineageNode(e.leaf_hash.hex(), False, depth_of[i]))
    out_edges = tuple(
        LineageEdge(entries[s].leaf_hash.hex(), entries[t].leaf_hash.hex(), typ, pos)
        for (s, t, typ), pos in sorted(edges.items(), key=lambda kv: (kv[0][0], kv[1] if kv[1] is not None else 1 << 16, kv[0]))
        if s in kept and t in kept
    )
    return LineageGraph(start.leaf_hash.hex(), way, depth, tuple(nodes), out_edges, truncated)
