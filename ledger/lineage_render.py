"""Draw a lineage graph as an SVG picture (``render_svg``) or a terminal tree (``render_text``).

Pure: values in, a string out. An edge goes from the record that derives (``source``, a
battery pack) to the record it derives from (``target``, a cell). Every edge points down:
the root at layer 0, its ancestors below, records deriving from it above (then shifted).
Layout is Sugiyama-style: longest-path layers, a dummy slot in each layer an edge crosses
(no edge runs through a box), barycenter sweeps against crossings, x by isotonic
regression towards each slot's neighbours. Nodes and edges are taken in a canonical order
with ties broken by key, so one graph gives the same bytes in whatever order it comes.
Titles and labels are user data: non-printable characters become U+FFFD (XML stays
well-formed, a terminal cannot be steered), the rest is escaped, long text is ellipsized.
"""

from __future__ import annotations

import heapq
import unicodedata
from bisect import bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from ledger.errors import MalformedInput

NODE_WIDTH = 240.0
NODE_HEIGHT = 46.0
DUMMY_WIDTH = 14.0  # the slot an edge takes in a layer it crosses
NODE_GAP = 28.0  # horizontal space between neighbouring slots
LAYER_GAP = 66.0  # vertical space between layers: edges and their labels live here
MARGIN = 20.0
LEGEND_HEIGHT = 30.0
PORT_SPACING = 14.0  # between the ends of edges that meet one side of a box
SWEEPS = 8  # barycenter sweeps, alternating down and up
PLACE_ROUNDS = 12  # x-coordinate rounds, alternating down and up
SHORT_HASH_CHARS = 8

_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
_EDGE_STYLE = {"component_of": ("#2b6cb0", ""), "supersedes": ("#c05621", "7 4"), "describes": ("#2f855a", "2 3")}
_SPARE_STYLES = (("#6b46c1", "9 3 2 3"), ("#b83280", "4 2"), ("#4a5568", "1 3"), ("#975a16", ""))  # (colour, dashes)
_EM = {**dict.fromkeys(" ijlI.,:;|!'`·-", 0.34), **dict.fromkeys('frt()[]/"', 0.44), **dict.fromkeys("mwMW@%…", 0.92)}
_Adjacency = Mapping[int, list[int]]


class LineageCycle(MalformedInput):
    """The lineage graph is not a DAG; ``cycle`` lists its keys, the first repeated last."""

    def __init__(self, cycle: tuple[str, ...]):
        super().__init__("expected a DAG, got a cycle: " + " → ".join(short_hash(k) for k in cycle))
        self.cycle = cycle


class Direction(StrEnum):
    ANCESTORS = "ancestors"  # from the root along source -> target: what it derives from
    DESCENDANTS = "descendants"  # from the root along target -> source: what derives from it


@dataclass(frozen=True, slots=True)
class RenderNode:
    key: str  # unique (a leaf hash hex, 64 chars)
    title: str  # e.g. the record id or product name; "" for hidden nodes
    subtitle: str = ""  # e.g. "pcf · 12.5 kgCO2e/kg · Active" or the author
    hidden: bool = False  # the caller may not see it: drawn as short_hash(key) only, greyed


@dataclass(frozen=True, slots=True)
class RenderEdge:
    source: str  # key of the record that derives (the child, e.g. the battery pack)
    target: str  # key of the record it derives from (the parent, e.g. a cell)
    type: str  # "component_of", "supersedes", "describes", ...
    label: str = ""  # e.g. "× 12 kg", the quantity


class Point(NamedTuple):
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Box:
    """A node's rectangle: top-left corner, size, and its layer (0 = top)."""

    x: float
    y: float
    width: float
    height: float
    layer: int


@dataclass(frozen=True, slots=True)
class Layout:
    """``routes[i]`` is the path of ``edges[i]`` as passed in: points in pairs, each pair
    crossing one gap between layers (drawn as a curve), joined by straight drops through
    the layers the edge crosses; the first point is on the source, the last on the target."""

    positions: Mapping[str, Box]
    routes: tuple[tuple[Point, ...], ...]
    width: float
    height: float


def short_hash(key: str) -> str:
    """The short form of a leaf hash shown for hidden nodes: 'a1b2c3d4…'."""
    return _clean(key[:SHORT_HASH_CHARS]) + ("…" if len(key) > SHORT_HASH_CHARS else "")


# -- the graph ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Graph:
    nodes: Mapping[str, RenderNode]
    edges: Sequence[RenderEdge]
    root: str
    order: tuple[str, ...]  # topological: every source before its targets, ties by key
    succ: Mapping[str, list[str]]
    pred: Mapping[str, list[str]]


def _graph(nodes: Sequence[RenderNode], edges: Sequence[RenderEdge], root: str) -> _Graph:
    by_key: dict[str, RenderNode] = {}
    for node in nodes:
        if node.key in by_key:
            raise MalformedInput(f"expected unique node keys, got {node.key!r} twice")
        by_key[node.key] = node
    if root not in by_key:
        raise MalformedInput(f"expected the root {root!r} among the nodes")
    succ: dict[str, list[str]] = {k: [] for k in by_key}
    pred: dict[str, list[str]] = {k: [] for k in by_key}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in by_key:
                raise MalformedInput(f"expected edge ends among the nodes, got {end!r}")
        succ[edge.source].append(edge.target)
        pred[edge.target].append(edge.source)
    indegree = {k: len(p) for k, p in pred.items()}
    ready = [k for k, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        order.append(key := heapq.heappop(ready))
        for target in succ[key]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    if len(order) < len(by_key):  # each node left has a predecessor left: walk back to a repeat
        walk = [min(k for k, d in indegree.items() if d > 0)]
        while (back := min(p for p in pred[walk[-1]] if indegree[p] > 0)) not in walk:
            walk.append(back)
        cycle = walk[walk.index(back) :][::-1]
        raise LineageCycle((*cycle, cycle[0]))
    return _Graph(by_key, edges, root, tuple(order), succ, pred)


def _layers(g: _Graph) -> dict[str, int]:
    # Records that reach the root go above it, as high as their longest path to it; the
    # rest go one below their lowest predecessor, or if they have none and do not reach
    # the root ("floating"), one above their highest target.
    above: dict[str, int] = {g.root: 0}
    for key in reversed(g.order):
        ups = [above[t] - 1 for t in g.succ[key] if t in above]
        if ups and key != g.root:
            above[key] = min(ups)
    layer: dict[str, int] = {}
    floating: list[str] = []
    for key in g.order:
        wants = [layer[s] + 1 for s in g.pred[key] if s in layer] + ([above[key]] if key in above else [])
        if wants:
            layer[key] = max(wants)
        else:
            floating.append(key)
    for key in reversed(floating):
        layer[key] = min((layer[t] - 1 for t in g.succ[key]), default=0)
    top = min(layer.values())
    return {k: v - top for k, v in layer.items()}


def _canonical(edges: Sequence[RenderEdge]) -> list[int]:
    return sorted(range(len(edges)), key=lambda i: (edges[i].source, edges[i].target, edges[i].type, edges[i].label))


# -- layout -------------------------------------------------------------------------


def layout(nodes: Sequence[RenderNode], edges: Sequence[RenderEdge], root: str) -> Layout:
    """Place every node and route every edge. Raises LineageCycle (a ValueError) on a cycle
    and MalformedInput on duplicate keys, an unknown root or an edge to an unknown node."""
    return _layout(_graph(nodes, edges, root))


def _layout(g: _Graph) -> Layout:
    layer = _layers(g)
    keys = sorted(g.nodes)
    slot = {k: i for i, k in enumerate(keys)}  # slots 0..n-1 are the nodes in key order, then dummies
    width = [NODE_WIDTH] * len(keys)
    rows: list[list[int]] = [[] for _ in range(max(layer.values()) + 1)]
    for key in keys:
        rows[layer[key]].append(slot[key])
    up: defaultdict[int, list[int]] = defaultdict(list)  # slot -> the slots one layer up joined to it
    down: defaultdict[int, list[int]] = defaultdict(list)
    chains: dict[int, list[int]] = {}  # edge index -> its slots, source first
    for i in _canonical(g.edges):
        edge = g.edges[i]
        chain = [slot[edge.source]]
        for row in range(layer[edge.source] + 1, layer[edge.target]):
            chain.append(len(width))
            rows[row].append(len(width))
            width.append(DUMMY_WIDTH)
        chains[i] = chain + [slot[edge.target]]
        for a, b in zip(chains[i], chains[i][1:]):
            down[a].append(b)
            up[b].append(a)
    rows = _order(rows, up, down)
    x = _place(rows, up, down, width)
    shift = MARGIN - min(x[s] - width[s] / 2 for row in rows for s in row)
    x = [v + shift for v in x]
    top = [MARGIN + r * (NODE_HEIGHT + LAYER_GAP) for r in range(len(rows))]
    positions = {k: Box(x[slot[k]] - NODE_WIDTH / 2, top[layer[k]], NODE_WIDTH, NODE_HEIGHT, layer[k]) for k in keys}
    ports = _ports(chains, x)
    routes: list[tuple[Point, ...]] = []
    for i, edge in enumerate(g.edges):
        a, b = layer[edge.source], layer[edge.target]
        points = [Point(ports[i, "out"], top[a] + NODE_HEIGHT)]
        for r, s in zip(range(a + 1, b), chains[i][1:-1]):
            points += [Point(x[s], top[r]), Point(x[s], top[r] + NODE_HEIGHT)]
        routes.append((*points, Point(ports[i, "in"], top[b])))
    graph_width = max(x[s] + width[s] / 2 for row in rows for s in row) + MARGIN
    return Layout(MappingProxyType(positions), tuple(routes), graph_width, top[-1] + NODE_HEIGHT + MARGIN)


def _order(rows: list[list[int]], up: _Adjacency, down: _Adjacency) -> list[list[int]]:
    """Barycenter sweeps; returns the ordering with the fewest crossings seen."""
    pos = [0] * sum(map(len, rows))
    for row in rows:
        for i, s in enumerate(row):
            pos[s] = i
    best, fewest = [r[:] for r in rows], _crossings(rows, down, pos)
    for sweep in range(SWEEPS):
        if fewest == 0:
            break
        near = up if sweep % 2 == 0 else down
        for r in range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1):
            rows[r].sort(key=lambda s: (sum(pos[n] for n in near[s]) / len(near[s]) if near[s] else pos[s], pos[s]))
            for i, s in enumerate(rows[r]):
                pos[s] = i
        if (crossings := _crossings(rows, down, pos)) < fewest:
            best, fewest = [r[:] for r in rows], crossings
    return best


def _crossings(rows: list[list[int]], down: _Adjacency, pos: list[int]) -> int:
    total = 0
    for row in rows[:-1]:
        seen: list[int] = []
        for _, lower in sorted((pos[a], pos[b]) for a in row for b in down[a]):
            total += len(seen) - bisect_right(seen, lower)
            insort(seen, lower)
    return total


def _place(rows: list[list[int]], up: _Adjacency, down: _Adjacency, width: list[float]) -> list[float]:
    """x of each slot's centre: rounds pulling each row towards its neighbours' mean, never
    closer than NODE_GAP and never reordered (isotonic regression over the packed offsets)."""
    x = [0.0] * len(width)
    offsets = []  # the least distance of each slot from the first of its row
    for row in rows:
        at, offset = 0.0, []
        for i, s in enumerate(row):
            at += (width[row[i - 1]] + width[s]) / 2 + NODE_GAP if i else 0.0
            offset.append(at)
            x[s] = at
        offsets.append(offset)
    for rnd in range(PLACE_ROUNDS):
        for r in range(len(rows)) if rnd % 2 == 0 else range(len(rows) - 1, -1, -1):
            want = []
            for s, o in zip(rows[r], offsets[r]):
                near = up[s] + down[s]
                want.append((sum(x[n] for n in near) / len(near) if near else x[s]) - o)
            for s, v, o in zip(rows[r], _isotonic(want), offsets[r]):
                x[s] = v + o
    return x


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence nearest to ``values`` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [sum, count]
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return [total / count for total, count in blocks for _ in range(int(count))]


def _ports(chains: dict[int, list[int]], x: list[float]) -> dict[tuple[int, str], float]:
    """Spread the ends of edges along a box side, ordered by where their other end is."""
    sides: dict[tuple[int, str], list[tuple[float, int]]] = defaultdict(list)
    for i, chain in chains.items():
        sides[chain[0], "out"].append((x[chain[1]], i))
        sides[chain[-1], "in"].append((x[chain[-2]], i))
    ports = {}
    for (s, side), ends in sides.items():
        step = min(PORT_SPACING, (NODE_WIDTH - 40) / max(len(ends) - 1, 1))
        for n, (_, i) in enumerate(sorted(ends)):
            ports[i, side] = x[s] + (n - (len(ends) - 1) / 2) * step
    return ports


# -- text ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else " " if unicodedata.category(c) == "Zs" else "\ufffd" for c in text)


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """A generous estimate of the rendered width (DejaVu Sans is among the widest)."""
    wide = ("W", "F")
    em = sum(
        1.0 if unicodedata.east_asian_width(c) in wide else _EM.get(c, 0.72 if c.isupper() or c.isdigit() else 0.62)
        for c in text
    )
    return em * size * (1.08 if bold else 1.0)


def _fit(text: str, room: float, size: float, bold: bool = False) -> str:
    text = _clean(text)[: int(room / (0.3 * size)) + 1]
    if _text_width(text, size, bold) <= room:
        return text
    while text and _text_width(text + "…", size, bold) > room:
        text = text[:-1]
    return text.rstrip() + "…"


def _node_line(node: RenderNode, shared: bool) -> str:
    name = f"<hidden {short_hash(node.key)}>" if node.hidden else _clean(node.title) or short_hash(node.key)
    if shared:
        return name + " (*)"
    return f"{name}  {_clean(node.subtitle)}" if node.subtitle and not node.hidden else name


def render_text(
    nodes: Sequence[RenderNode],
    edges: Sequence[RenderEdge],
    root: str,
    *,
    direction: Direction | str = Direction.ANCESTORS,
) -> str:
    """The tree reachable from ``root`` in ``direction``, one line per edge like ``cargo tree``,
    children in the order their edges are passed. A node printed before shows as ``title (*)``
    without its subtree. Lines are joined by newlines, with none at the end. Raises as ``layout``."""
    g = _graph(nodes, edges, root)
    ancestors = Direction(direction) is Direction.ANCESTORS
    children: dict[str, list[RenderEdge]] = {k: [] for k in g.nodes}
    for edge in edges:
        children[edge.source if ancestors else edge.target].append(edge)
    lines = [_node_line(g.nodes[root], False)]
    printed = {root}
    stack: list[tuple[list[RenderEdge], int, str]] = [(children[root], 0, "")]
    while stack:
        kids, i, prefix = stack.pop()
        if i == len(kids):
            continue
        stack.append((kids, i + 1, prefix))
        edge, last = kids[i], i == len(kids) - 1
        key = edge.target if ancestors else edge.source
        label = f"  [{_clean(edge.label)}]" if edge.label else ""
        lines.append(prefix + ("└── " if last else "├── ") + _node_line(g.nodes[key], key in printed) + label)
        if key not in printed:
            printed.add(key)
            stack.append((children[key], 0, prefix + ("    " if last else "│   ")))
    return "\n".join(lines)


# -- SVG ----------------------------------------------------------------------------


def _attrs(attrs: Mapping[str, object]) -> str:
    """Floats get one decimal, "" values are left out, everything is escaped."""
    shown = ((k, f"{v:.1f}" if isinstance(v, float) else str(v)) for k, v in attrs.items() if v != "")
    return "".join(f" {k}={quoteattr(v)}" for k, v in shown)


def _tag(name: str, attrs: Mapping[str, object], text: str | None = None) -> str:
    return f"<{name}{_attrs(attrs)}/>" if text is None else f"<{name}{_attrs(attrs)}>{escape(text)}</{name}>"


def _text(x: float, y: float, text: str, size: int, fill: str, more: Mapping[str, object] | None = None) -> str:
    return _tag("text", {"x": x, "y": y, "font-size": size, "fill": fill, **(more or {})}, text)


def _path(route: tuple[Point, ...]) -> str:
    d = f"M{route[0].x:.1f},{route[0].y:.1f}"
    for i in range(0, len(route), 2):
        (x0, y0), (x1, y1) = route[i], route[i + 1]
        mid = (y0 + y1) / 2
        d += (f" L{x0:.1f},{y0:.1f}" if i else "") + f" C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}"
    return d


def _label_at(route: tuple[Point, ...], width: float, end: int, taken: dict[int, list[tuple[float, ...]]]) -> Point:
    """Where a label this wide goes: on the curve across the first gap, near the source (``end``
    < 0: more edges meet at the target than leave the source), the last gap, near the target
    (``end`` > 0: the other way round), or the middle one; clear of the labels placed before."""
    k = 0 if end < 0 else len(route) - 2 if end > 0 else (len(route) // 2 - 1) // 2 * 2
    (x0, y0), (x1, y1) = route[k], route[k + 1]
    # the curve at t: x eases by 3t²-2t³, y by 1.5t(1-t)+t³; past 0.75 a label covers the arrowhead
    for t in (0.25, 0.4, 0.55, 0.7) if end < 0 else (0.75, 0.6, 0.45, 0.3) if end > 0 else (0.5, 0.32, 0.68, 0.22):
        at = Point(x0 + (x1 - x0) * (3 * t * t - 2 * t**3), y0 + (y1 - y0) * (1.5 * t * (1 - t) + t**3))
        box = (at.x - width / 2 - 2, at.y - 11, at.x + width / 2 + 2, at.y + 11)
        cells = range(int(box[0] // 100), int(box[2] // 100) + 1)  # labels placed, bucketed by 100 px of x
        near = [b for c in cells for b in taken.get(c, ())]
        if not any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3] for b in near):
            break
    for c in cells:
        taken.setdefault(c, []).append(box)
    return at


def _node_svg(node: RenderNode, box: Box, is_root: bool) -> str:
    cx, room = box.x + box.width / 2, box.width - 20
    rect = {"x": box.x, "y": box.y, "width": box.width, "height": box.height, "rx": 7.0, "ry": 7.0}
    if node.hidden:
        rect |= {"fill": "#f0f0f0", "stroke": "#9e9e9e", "stroke-dasharray": "5 3"}
    else:
        rect |= {"fill": "#ebf4ff" if is_root else "#f7fafc", "stroke": "#1a202c" if is_root else "#4a5568"}
    rect["stroke-width"] = 3.0 if is_root else 1.2
    tip = node.key if node.hidden else f"{node.title}\n{node.key}"
    out = ['<g class="node">', _tag("title", {}, _clean(tip)), _tag("rect", rect)]
    middle = {"text-anchor": "middle"}
    if node.hidden:
        out.append(_text(cx, box.y + 27, short_hash(node.key), 12, "#808080", middle | {"font-family": _MONO}))
    else:
        title = _fit(node.title or short_hash(node.key), room, 13, bold=True)
        bold = middle | {"font-weight": "bold"}
        out.append(_text(cx, box.y + (19 if node.subtitle else 28), title, 13, "#1a202c", bold))
        if node.subtitle:
            out.append(_text(cx, box.y + 36, _fit(node.subtitle, room, 12), 12, "#4a5568", middle))
    return "".join(out) + "</g>"


def render_svg(nodes: Sequence[RenderNode], edges: Sequence[RenderEdge], root: str, *, legend_title: str = "Edges:",
               type_names: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """A standalone SVG 1.1 document of the whole graph as ``layout`` places it, with a legend
    of the edge types present (``legend_title``, each type by ``type_names`` or its own name:
    a page in another language); no scripts, no external resources. Raises as ``layout``."""
    g = _graph(nodes, edges, root)
    lay = _layout(g)
    types = sorted({e.type for e in edges})
    spare = iter(_SPARE_STYLES * (len(types) // len(_SPARE_STYLES) + 1))
    colour = {t: (_EDGE_STYLE[t] if t in _EDGE_STYLE else next(spare)) for t in types}
    stroke = {t: {"stroke": c, "stroke-width": 1.6, "stroke-dasharray": d} for t, (c, d) in colour.items()}
    for i, t in enumerate(types):
        stroke[t]["marker-end"] = f"url(#arrow-{i})"
    legend = [_fit((type_names or {}).get(t, t), 200, 12) for t in types]
    width = max(lay.width, MARGIN + max(50, _text_width(legend_title, 12) + 12) + sum(60 + _text_width(t, 12) for t in legend))
    height = lay.height + (LEGEND_HEIGHT if edges else 0.0)
    svg = {"xmlns": "http://www.w3.org/2000/svg", "version": "1.1", "width": width, "height": height}
    svg |= {"viewBox": f"0 0 {width:.1f} {height:.1f}", "font-family": _FONT}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<svg{_attrs(svg)}>", "<defs>"]
    for i, t in enumerate(types):
        marker = {"id": f"arrow-{i}", "viewBox": "0 0 10 10", "refX": 10, "refY": 5, "orient": "auto"}
        marker |= {"markerWidth": 10, "markerHeight": 10, "markerUnits": "userSpaceOnUse"}
        arrow = _tag("path", {"d": "M0,1 L10,5 L0,9 z", "fill": colour[t][0]})
        out.append(f"<marker{_attrs(marker)}>{arrow}</marker>")
    out += ["</defs>", _tag("rect", {"width": width, "height": height, "fill": "#ffffff"}), '<g class="edges">']
    fan_out, fan_in = Counter(e.source for e in edges), Counter(e.target for e in edges)
    labels: list[str] = []
    taken: dict[int, list[tuple[float, ...]]] = {}
    for i in _canonical(edges):
        edge, route = edges[i], lay.routes[i]
        out.append(_tag("path", {"class": "edge", "d": _path(route), "fill": "none", **stroke[edge.type]}))
        if edge.label:
            text = _fit(edge.label, NODE_WIDTH / 2, 12)
            w = _text_width(text, 12) + 8
            spread = fan_out[edge.source] - fan_in[edge.target]
            at = _label_at(route, w, (spread > 0) - (spread < 0), taken)
            rect = {"x": at.x - w / 2, "y": at.y - 9, "width": w, "height": 18.0, "rx": 4.0, "ry": 4.0}
            labels.append(_tag("rect", rect | {"fill": "#ffffff", "stroke": colour[edge.type][0], "stroke-width": 0.6}))
            labels.append(_text(at.x, at.y + 4, text, 12, "#2d3748", {"text-anchor": "middle"}))
    out.append('</g><g class="nodes">')
    out += [_node_svg(g.nodes[k], lay.positions[k], k == root) for k in sorted(g.nodes)]
    out += ['</g><g class="edge-labels">', *labels, "</g>"]
    if edges:
        y = lay.height + LEGEND_HEIGHT / 2 - 6
        out.append('<g class="legend">' + _text(MARGIN, y + 4, legend_title, 12, "#4a5568"))
        at = MARGIN + max(50, _text_width(legend_title, 12) + 12)
        for t, text in zip(types, legend):
            out.append(_tag("line", {"x1": at, "y1": y, "x2": at + 34, "y2": y, **stroke[t]}))
            out.append(_text(at + 42, y + 4, text, 12, "#2d3748"))
            at += 60 + _text_width(text, 12)
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)
