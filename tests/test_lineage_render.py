"""ledger.lineage_render: the SVG parses and shows what it should, the layout keeps its
promises (no overlaps, edges point down, root on top, deterministic), and the text tree
is exactly what a reader of ``cargo tree`` expects."""

import hashlib
import random
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedInput
from ledger.lineage_render import (
    LineageCycle,
    RenderEdge,
    RenderNode,
    layout,
    render_svg,
    render_text,
    short_hash,
)

SVG = "{http://www.w3.org/2000/svg}"
SETTINGS = settings(deadline=None)


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def battery() -> tuple[list[RenderNode], list[RenderEdge]]:
    """A pack of three cells, two cathode materials each; one material is shared, one hidden."""
    nodes = [
        RenderNode(key("pack"), "Battery pack BP-42", "pcf · 61.3 kgCO2e/kWh · Active"),
        RenderNode(key("c1"), "Cell C-17", "pcf · 12.5 kgCO2e/kg"),
        RenderNode(key("c2"), "Cell C-18", "pcf · 12.9 kgCO2e/kg"),
        RenderNode(key("c3"), "Cell C-20"),
        RenderNode(key("m1"), "Cathode A", "by umicore.example"),
        RenderNode(key("m2"), "Cathode shared"),
        RenderNode(key("m3"), "", hidden=True),
        RenderNode(key("m4"), "LFP cathode"),
        RenderNode(key("m5"), "Lithium carbonate"),
    ]
    pairs = [("pack", "c1", "× 12 kg"), ("pack", "c2", "× 12 kg"), ("pack", "c3", "× 8 kg"), ("c1", "m1", "× 2 kg")]
    pairs += [("c1", "m2", "× 1 kg"), ("c2", "m2", "× 2 kg"), ("c2", "m3", ""), ("c3", "m4", ""), ("c3", "m5", "× 1 kg")]
    return nodes, [RenderEdge(key(a), key(b), "component_of", label) for a, b, label in pairs]


def svg_tree(nodes, edges, root) -> ET.Element:
    return ET.fromstring(render_svg(nodes, edges, root).encode())


def node_groups(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(SVG + "g") if g.get("class") == "node"]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(SVG + "text")]


def assert_layout_sound(nodes, edges, root) -> None:
    """No two boxes intersect, every edge runs from a higher layer down to a lower one, and
    no route drops through a box in a layer it crosses."""
    lay = layout(nodes, edges, root)
    boxes = list(lay.positions.values())
    assert len(boxes) == len(nodes)
    for i, a in enumerate(boxes):
        assert 0 <= a.x and a.x + a.width <= lay.width and 0 <= a.y and a.y + a.height <= lay.height
        for b in boxes[i + 1 :]:
            apart = a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
            assert apart, (a, b)
    for edge, route in zip(edges, lay.routes):
        src, dst = lay.positions[edge.source], lay.positions[edge.target]
        assert src.layer < dst.layer and src.y < dst.y
        assert route[0].y == src.y + src.height and src.x <= route[0].x <= src.x + src.width
        assert route[-1].y == dst.y and dst.x <= route[-1].x <= dst.x + dst.width
        assert all(p.y <= q.y for p, q in zip(route, route[1:]))
        for drop_top, drop_bottom in zip(route[1:-1:2], route[2:-1:2]):
            assert drop_top.x == drop_bottom.x
            for box in boxes:
                if box.y == drop_top.y:
                    assert not box.x <= drop_top.x <= box.x + box.width, (edge, box)


# -- SVG ----------------------------------------------------------------------------


def test_svg_is_a_standalone_document_with_a_group_per_node_and_a_path_per_edge():
    nodes, edges = battery()
    text = render_svg(nodes, edges, key("pack"))
    svg = ET.fromstring(text.encode())
    assert svg.tag == SVG + "svg" and svg.get("version") == "1.1"
    assert svg.get("viewBox") == f"0 0 {svg.get('width')} {svg.get('height')}"
    assert len(node_groups(svg)) == len(nodes)
    assert len([p for p in svg.iter(SVG + "path") if p.get("class") == "edge"]) == len(edges)
    assert "<script" not in text and "href" not in text and "url(http" not in text
    shown = texts(svg)
    for node in nodes:
        assert (short_hash(node.key) if node.hidden else node.title) in shown
    assert shown.count("× 12 kg") == 2 and "component_of" in shown  # edge labels and the legend


def test_titles_are_escaped_and_round_trip_through_the_xml_parser():
    nasty = ["<script>alert(1)</script>", "A & B \"quoted\" 'single'", "]]><!--", "&amp; already"]
    nodes = [RenderNode(key(t), t, subtitle=t[::-1]) for t in nasty]
    edges = [RenderEdge(nodes[0].key, n.key, "<type & 'x'>", label="<&>") for n in nodes[1:]]
    svg = svg_tree(nodes, edges, nodes[0].key)
    shown = texts(svg)
    for title in nasty:
        assert title in shown and title[::-1] in shown
    assert "<type & 'x'>" in shown and shown.count("<&>") == 3
    assert not any(e.tag.endswith("script") for e in svg.iter())


def test_control_characters_become_replacement_characters():
    title = "bad\x1b[31m\nname\x00\u202e"
    nodes = [RenderNode(key("r"), title, subtitle="narrow\u202fspace")]
    svg = svg_tree(nodes, [], key("r"))  # \x00 or \x1b would make the XML ill-formed
    assert "bad\ufffd[31m\ufffdname\ufffd\ufffd" in texts(svg) and "narrow space" in texts(svg)
    assert render_text(nodes, [], key("r")) == "bad\ufffd[31m\ufffdname\ufffd\ufffd  narrow space"


def test_hidden_nodes_show_only_the_short_leaf_hash():
    nodes, edges = battery()
    nodes.append(RenderNode(key("secret"), "Secret supplier GmbH", "confidential", hidden=True))
    edges.append(RenderEdge(key("m1"), key("secret"), "component_of"))
    text = render_svg(nodes, edges, key("pack"))
    assert "Secret supplier" not in text and "confidential" not in text
    hidden = [g for g in node_groups(ET.fromstring(text.encode())) if g.find(SVG + "rect").get("stroke-dasharray")]
    assert sorted(texts(g) for g in hidden) == sorted([[short_hash(key("m3"))], [short_hash(key("secret"))]])
    assert short_hash(key("m3")) == key("m3")[:8] + "…"


def test_the_root_has_the_bold_border():
    nodes, edges = battery()
    svg = svg_tree(nodes, edges, key("pack"))
    widths = {texts(g)[0]: g.find(SVG + "rect").get("stroke-width") for g in node_groups(svg)}
    assert widths.pop("Battery pack BP-42") == "3.0" and set(widths.values()) == {"1.2"}


def test_long_text_is_cut_with_an_ellipsis():
    nodes = [RenderNode(key("r"), "Cathode material " * 10, subtitle="x" * 500)]
    title, subtitle = texts(svg_tree(nodes, [], key("r")))
    assert title.endswith("…") and "Cathode material Cathode" in title and len(title) < 40
    assert subtitle.endswith("…") and len(subtitle) < 45


def test_the_legend_lists_each_edge_type_present_once():
    nodes, edges = battery()
    edges.append(RenderEdge(key("c3"), key("c2"), "supersedes"))
    legend = next(g for g in svg_tree(nodes, edges, key("pack")).iter(SVG + "g") if g.get("class") == "legend")
    assert texts(legend) == ["Edges:", "component_of", "supersedes"]


# -- layout -------------------------------------------------------------------------


def test_battery_layout_is_three_tiers_with_the_root_on_top():
    nodes, edges = battery()
    lay = layout(nodes, edges, key("pack"))
    layers = {k: box.layer for k, box in lay.positions.items()}
    assert layers[key("pack")] == 0
    assert {layers[key(c)] for c in ("c1", "c2", "c3")} == {1}
    assert {layers[key(m)] for m in ("m1", "m2", "m3", "m4", "m5")} == {2}
    assert_layout_sound(nodes, edges, key("pack"))


def test_records_deriving_from_the_root_are_drawn_above_it():
    nodes, edges = battery()  # rooted at the shared cathode: the cells using it, then the pack
    lay = layout(nodes, edges, key("m2"))
    layer = {k: box.layer for k, box in lay.positions.items()}
    assert layer[key("pack")] == 0 and layer[key("c1")] == layer[key("c2")] == 1 and layer[key("m2")] == 2
    assert_layout_sound(nodes, edges, key("m2"))


def test_a_wide_layer_does_not_overlap():
    nodes = [RenderNode(key("r"), "root")] + [RenderNode(key(f"c{i}"), f"cell {i}") for i in range(30)]
    edges = [RenderEdge(key("r"), n.key, "component_of", f"× {i}") for i, n in enumerate(nodes[1:])]
    assert_layout_sound(nodes, edges, key("r"))
    assert layout(nodes, edges, key("r")).width >= 30 * 240


def random_dag(draw, connected: bool):
    """Nodes 0..n-1, edges only from a lower to a higher index; ``connected``: each node
    after 0 has an edge from an earlier one, so node 0 reaches them all."""
    n = draw(st.integers(1, 60))
    edges = set()
    for j in range(1, n):
        sources = draw(st.lists(st.integers(0, j - 1), min_size=1 if connected else 0, max_size=3))
        edges.update((i, j) for i in sources)
    names = [key(str(i)) for i in range(n)]
    hidden = draw(st.sets(st.integers(0, n - 1), max_size=n // 4))
    nodes = [RenderNode(names[i], f"record {i}", f"pcf · {i}.5 kg", hidden=i in hidden) for i in range(n)]
    types = ("component_of", "supersedes", "describes", "other")
    edges = [RenderEdge(names[i], names[j], types[(i + j) % 4], f"× {i + j}" if i % 2 else "") for i, j in sorted(edges)]
    root = names[0] if connected else names[draw(st.integers(0, n - 1))]
    return nodes, edges, root


@st.composite
def dags(draw):
    return random_dag(draw, connected=draw(st.booleans()))


@st.composite
def rooted_dags(draw):
    return random_dag(draw, connected=True)


@SETTINGS
@given(dags())
def test_random_dags_lay_out_without_overlap_and_with_edges_pointing_down(dag):
    assert_layout_sound(*dag)


@SETTINGS
@given(rooted_dags())
def test_the_root_of_an_ancestor_graph_is_alone_on_top(dag):
    nodes, edges, root = dag
    lay = layout(nodes, edges, root)
    assert [k for k, box in lay.positions.items() if box.layer == 0] == [root]


@SETTINGS
@given(dags(), st.randoms(use_true_random=False))
def test_rendering_is_deterministic_whatever_the_input_order(dag, rnd):
    nodes, edges, root = dag
    svg = render_svg(nodes, edges, root)
    assert render_svg(nodes, edges, root) == svg
    nodes, edges = nodes[:], edges[:]
    rnd.shuffle(nodes)
    rnd.shuffle(edges)
    assert render_svg(nodes, edges, root) == svg
    tree = ET.fromstring(svg.encode())
    assert len(node_groups(tree)) == len(nodes)
    assert len([p for p in tree.iter(SVG + "path") if p.get("class") == "edge"]) == len(edges)


@SETTINGS
@given(st.text(max_size=12), st.text(max_size=12))
def test_any_title_gives_well_formed_xml(title, label):
    nodes = [RenderNode(key("a"), title, subtitle=title), RenderNode(key("b"), "b")]
    svg = svg_tree(nodes, [RenderEdge(key("a"), key("b"), label or "t", label)], key("a"))
    assert len(node_groups(svg)) == 2


def test_a_thousand_node_tree_renders():
    rng = random.Random(7)
    nodes = [RenderNode(key(str(i)), f"record {i}", "pcf") for i in range(1000)]
    edges = [RenderEdge(nodes[rng.randrange(i)].key, nodes[i].key, "component_of", "× 1") for i in range(1, 1000)]
    svg = svg_tree(nodes, edges, nodes[0].key)
    assert len(node_groups(svg)) == 1000
    assert len(render_text(nodes, edges, nodes[0].key).splitlines()) == 1000


def test_a_thousand_deep_chain_renders_as_text_and_svg():
    nodes = [RenderNode(key(str(i)), f"record {i}") for i in range(1000)]
    edges = [RenderEdge(a.key, b.key, "component_of") for a, b in zip(nodes, nodes[1:])]
    assert render_text(nodes, edges, nodes[0].key).splitlines()[-1].endswith("└── record 999")
    assert layout(nodes, edges, nodes[0].key).positions[nodes[-1].key].layer == 999


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize("render", [layout, render_svg, render_text])
def test_a_cycle_raises_value_error_naming_it(render):
    nodes = [RenderNode(key(n), n) for n in "abcd"]
    edges = [RenderEdge(key(a), key(b), "component_of") for a, b in ["ab", "bc", "cd", "db"]]
    with pytest.raises(ValueError, match="cycle") as raised:
        render(nodes, edges, key("a"))
    assert isinstance(raised.value, LineageCycle) and isinstance(raised.value, MalformedInput)
    cycle = raised.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {key("b"), key("c"), key("d")} and len(cycle) == 4
    assert all(e in edges for e in (RenderEdge(a, b, "component_of") for a, b in zip(cycle, cycle[1:])))
    assert short_hash(key("b")) in str(raised.value)


def test_a_self_loop_is_a_cycle():
    nodes = [RenderNode(key("a"), "a")]
    with pytest.raises(LineageCycle, match="expected a DAG"):
        render_svg(nodes, [RenderEdge(key("a"), key("a"), "supersedes")], key("a"))


@pytest.mark.parametrize(
    "nodes, edges, root, message",
    [
        ([RenderNode("k", "a"), RenderNode("k", "b")], [], "k", "unique node keys"),
        ([RenderNode("k", "a")], [], "other", "the root 'other'"),
        ([RenderNode("k", "a")], [RenderEdge("k", "nowhere", "component_of")], "k", "got 'nowhere'"),
    ],
    ids=["duplicate-key", "unknown-root", "edge-to-unknown-node"],
)
def test_malformed_graphs_are_rejected(nodes, edges, root, message):
    with pytest.raises(MalformedInput, match=message):
        render_svg(nodes, edges, root)


def test_an_unknown_direction_is_rejected():
    nodes, edges = battery()
    with pytest.raises(ValueError, match="sideways"):
        render_text(nodes, edges, key("pack"), direction="sideways")


# -- text ---------------------------------------------------------------------------


def test_text_tree_of_the_battery():
    nodes, edges = battery()
    assert render_text(nodes, edges, key("pack")) == "\n".join(
        [
            "Battery pack BP-42  pcf · 61.3 kgCO2e/kWh · Active",
            "├── Cell C-17  pcf · 12.5 kgCO2e/kg  [× 12 kg]",
            "│   ├── Cathode A  by umicore.example  [× 2 kg]",
            "│   └── Cathode shared  [× 1 kg]",
            "├── Cell C-18  pcf · 12.9 kgCO2e/kg  [× 12 kg]",
            "│   ├── Cathode shared (*)  [× 2 kg]",
            f"│   └── <hidden {key('m3')[:8]}…>",
            "└── Cell C-20  [× 8 kg]",
            "    ├── LFP cathode",
            "    └── Lithium carbonate  [× 1 kg]",
        ]
    )


def test_text_tree_of_descendants():
    nodes, edges = battery()
    assert render_text(nodes, edges, key("m2"), direction="descendants") == "\n".join(
        [
            "Cathode shared",
            "├── Cell C-17  pcf · 12.5 kgCO2e/kg  [× 1 kg]",
            "│   └── Battery pack BP-42  pcf · 61.3 kgCO2e/kWh · Active  [× 12 kg]",
            "└── Cell C-18  pcf · 12.9 kgCO2e/kg  [× 2 kg]",
            "    └── Battery pack BP-42 (*)  [× 12 kg]",
        ]
    )
    assert render_text(nodes, edges, key("m2")) == "Cathode shared"  # it derives from nothing
