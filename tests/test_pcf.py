"""The ``pcf`` kind through the library (issue 7): lineage, roll-up, disclosure, supersession,
derived status and its audit. Store-touching tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from ledger.access import Viewer
from ledger.config import Settings
from ledger.datadir import signed_submission
from ledger.effects import DerivedState
from ledger.errors import InvalidRecord, MalformedEnvelope, NotFound, StaleState
from ledger.log import Ledger, RecordQuery
from ledger.store import NewEntry
from ledger.store.models import StateRow, TermRow
from pcf_support import Company, add_company, footprint, leaf_of, lineage_extension, product_footprint
from ledger_fixtures import make_world


@dataclass
class Chain:
    ledger: Ledger
    operator_key: bytes
    cathode: Company  # raw material supplier
    cells: Company  # cell maker
    exporter: Company  # battery-pack exporter
    stranger: Company
    regulator: Viewer
    ledger_settings: Settings  # the data directory's, for reopening it

    def viewer(self, c: Company) -> Viewer:
        return self.ledger.viewer_for(c.address)


def make_chain(tmp_path: Path, url: str) -> Chain:
    w = make_world(tmp_path, url)
    lg = w.ledger
    cathode = add_company(lg, w.operator_key, "Cathode Materials Co", ["producer"], ("USCC", "91320500MA1X0Y2Z3A"))
    cells = add_company(lg, w.operator_key, "Cell Maker Ltd", ["producer"], ("USCC", "91440300MA5F6G7H8J"))
    exporter = add_company(lg, w.operator_key, "Pack Exporter GmbH", ["exporter"], ("EORI", "DE123456789012345"))
    stranger = add_company(lg, w.operator_key, "Unrelated AG", ["producer"], ("LEI", "529900HNOAA1KXQJUQ27"))
    reg = add_company(lg, w.operator_key, "Market Surveillance", ["regulator"], ("EORI", "FR123456789000000"))
    return Chain(lg, w.operator_key, cathode, cells, exporter, stranger, lg.viewer_for(reg.address), w.settings)


@pytest.fixture
def chain(tmp_path: Path, database_url: str) -> Iterator[Chain]:
    c = make_chain(tmp_path, database_url)
    yield c
    c.ledger.store.close()


@pytest.fixture
def sqlite_chain(tmp_path: Path, sqlite_url: str) -> Iterator[Chain]:
    c = make_chain(tmp_path, sqlite_url)
    yield c
    c.ledger.store.close()


def submit(c: Chain, company: Company, fp: dict, parents: tuple[str, ...] = (), visibility: str | None = None):
    return c.ledger.submit([company.sign(c.ledger, fp, parents, visibility)])


def refused(c: Chain, company: Company, fp: dict, parents: tuple[str, ...], *fragments: str, error=InvalidRecord):
    size = c.ledger.tree_size()
    with pytest.raises(error) as info:
        submit(c, company, fp, parents)
    for f in fragments:
        assert f in str(info.value), f"{f!r} not in {str(info.value)!r}"
    assert c.ledger.tree_size() == size, "a refused footprint was stored"
    with pytest.raises(NotFound):
        c.ledger.record(fp["id"], c.regulator)
    return str(info.value)


def three_tier(c: Chain) -> dict[str, dict]:
    """Raw materials → cells → battery pack, each tier by another company, disclosed upwards."""
    nmc = footprint(name="NMC811 cathode", company=c.cathode.company_id, product="urn:gtin:4012345000016",
                    values=("12.5", "12.1", "11.75"))  # fmt: skip
    lfp = footprint(name="LFP cathode", company=c.cathode.company_id, product="urn:gtin:4012345000023",
                    unit="kilogram", amount="2", values=("9.0", "8.5", "8.25"))  # fmt: skip
    submit(c, c.cathode, nmc)
    submit(c, c.cathode, lfp)
    c.ledger.disclose(nmc["id"], [c.cells.address], c.viewer(c.cathode))
    c.ledger.disclose(lfp["id"], [c.cells.address], c.viewer(c.cathode))
    cell = product_footprint([(nmc, "0.35"), (lfp, "0.1")], name="Cell 21700", company=c.cells.company_id,
                             product="urn:gtin:4012345000030", places=4)  # fmt: skip
    submit(c, c.cells, cell, (leaf_of(c.cathode.submitted[nmc["id"]]), leaf_of(c.cathode.submitted[lfp["id"]])))
    c.ledger.disclose(cell["id"], [c.exporter.address], c.viewer(c.cells))
    pack = product_footprint([(cell, "96")], name="Battery pack 75 kWh", company=c.exporter.company_id,
                             product="urn:gtin:4012345000047", places=3)  # fmt: skip
    submit(c, c.exporter, pack, (leaf_of(c.cells.submitted[cell["id"]]),), visibility="public")
    return {"nmc": nmc, "lfp": lfp, "cell": cell, "pack": pack}


# -- the three-tier bill of materials ------------------------------------------------------


def test_three_tier_bill_of_materials_is_admitted_with_its_effects(chain: Chain):
    fps = three_tier(chain)
    lg = chain.ledger
    pack = lg.record(fps["pack"]["id"], chain.regulator)
    assert pack.state is not None and pack.state.status == "Active"
    assert {(t.name, t.value) for t in pack.terms} == {
        ("product", "urn:gtin:4012345000047"), ("company", chain.exporter.company_id)}  # fmt: skip
    graph = lg.lineage(fps["pack"]["id"], chain.regulator, direction="ancestors", depth=5)
    ids = {n.record_id for n in graph.nodes}
    assert ids == {fps[k]["id"] for k in ("pack", "cell", "nmc", "lfp")}
    assert {e.type for e in graph.edges} == {"component_of"} and len(graph.edges) == 3
    down = lg.lineage(fps["nmc"]["id"], chain.regulator, direction="descendants", depth=5)
    assert {n.record_id for n in down.nodes} == {fps[k]["id"] for k in ("nmc", "cell", "pack")}
    assert lg.audit_effects().findings == ()


def test_query_by_product_term_and_kind(chain: Chain):
    fps = three_tier(chain)
    views, _ = chain.ledger.list_records(chain.regulator, query=RecordQuery(terms=(("product", "urn:gtin:4012345000030"),)))
    assert [v.entry.record_id for v in views] == [fps["cell"]["id"]]
    views, _ = chain.ledger.list_records(chain.regulator, query=RecordQuery(kind="pcf", author=chain.cathode.address))
    assert [v.entry.record_id for v in views] == [fps["nmc"]["id"], fps["lfp"]["id"]]


def test_lineage_hides_what_the_viewer_may_not_see(chain: Chain):
    fps = three_tier(chain)
    graph = chain.ledger.lineage(fps["pack"]["id"], Viewer(None), direction="ancestors", depth=5)
    visible = {n.record_id for n in graph.nodes if n.visible}
    assert visible == {fps["pack"]["id"]}  # only the public pack
    hidden = [n for n in graph.nodes if not n.visible]
    assert len(hidden) == 3 and all(n.record_id is None and len(n.leaf_hash) == 64 for n in hidden)
    # the cell maker sees its own cell and the cathodes disclosed to it
    mine = chain.ledger.lineage(fps["pack"]["id"], chain.viewer(chain.cells), direction="ancestors", depth=5)
    assert {n.record_id for n in mine.nodes if n.visible} == {fps[k]["id"] for k in ("pack", "cell", "nmc", "lfp")}


# -- roll-up refusals ----------------------------------------------------------------------


def _cell_parts(c: Chain) -> tuple[dict, dict]:
    a = footprint(name="A", company=c.cells.company_id, values=("2.0", "1.5", "1.25"))
    b = footprint(name="B", company=c.cells.company_id, unit="liter", amount="4", values=("8", "6", "4"))
    submit(c, c.cells, a)
    submit(c, c.cells, b)
    return a, b


def _leaves(c: Chain, company: Company, *fps: dict) -> tuple[str, ...]:
    return tuple(leaf_of(company.submitted[fp["id"]]) for fp in fps)


@pytest.mark.parametrize("field", ["pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions"])
def test_rollup_off_by_one_in_the_last_place_is_refused_naming_field_and_values(sqlite_chain: Chain, field: str):
    c = sqlite_chain
    a, b = _cell_parts(c)
    fp = product_footprint([(a, "3"), (b, "2")], places=4)
    honest = fp["pcf"][field]
    last = int(honest.replace(".", "").replace("-", ""))
    bumped = f"{last + 1:0{len(honest.replace('.', '').replace('-', ''))}d}"
    fp["pcf"][field] = ("-" if honest.startswith("-") else "") + bumped[: -4] + "." + bumped[-4:]
    msg = refused(c, c.cells, fp, _leaves(c, c.cells, a, b), field, fp["pcf"][field], honest)
    assert "declared" in msg and "computed" in msg


def test_honest_rollup_is_admitted_and_rounding_is_half_even(sqlite_chain: Chain):
    c = sqlite_chain
    part = footprint(name="P", company=c.cells.company_id, values=("0.125", "0.375", "0.625"))
    submit(c, c.cells, part)
    own = {"pcfExcludingBiogenicUptake": "0", "pcfIncludingBiogenicUptake": "0", "fossilGhgEmissions": "0"}
    fp = footprint(values=("0.12", "0.38", "0.62"))  # 0.125 → 0.12, 0.375 → 0.38, 0.625 → 0.62 (half-even)
    fp["extensions"] = [lineage_extension([(part, "1")], own)]
    submit(c, c.cells, fp, _leaves(c, c.cells, part))
    wrong = footprint(values=("0.13", "0.38", "0.62"))  # half-up would give 0.13
    wrong["extensions"] = [lineage_extension([(part, "1")], own)]
    refused(c, c.cells, wrong, _leaves(c, c.cells, part), "pcfExcludingBiogenicUptake", "declared 0.13", "computed 0.12")


def test_unit_mismatch_is_refused(sqlite_chain: Chain):
    c = sqlite_chain
    a, b = _cell_parts(c)
    fp = product_footprint([(a, "1"), (b, "1")])
    fp["extensions"][0]["data"]["components"][1]["unit"] = "kilogram"
    refused(c, c.cells, fp, _leaves(c, c.cells, a, b), "liter", "kilogram")


def test_component_that_is_not_a_pcf_is_refused(sqlite_chain: Chain):
    c = sqlite_chain
    lg = c.ledger
    ds = signed_submission(lg, c.operator_key, kind="dataset",
                           payload={"title": "t", "content_hash": "sha256:" + "0" * 64})  # fmt: skip
    lg.submit([ds])
    a, _ = _cell_parts(c)
    fp = product_footprint([(a, "1"), ({"id": ds.envelope.id, "pcf": a["pcf"]}, "1")])
    refused(c, c.cells, fp, (*_leaves(c, c.cells, a), leaf_of(ds)), "is a dataset, not a pcf")


def test_component_not_disclosed_to_the_author_is_refused_then_admitted_after_disclosure(sqlite_chain: Chain):
    c = sqlite_chain
    raw = footprint(name="raw", company=c.cathode.company_id, values=("5", "4", "3"))
    submit(c, c.cathode, raw)
    fp = product_footprint([(raw, "2")], company=c.cells.company_id)
    leaves = _leaves(c, c.cathode, raw)
    msg = refused(c, c.cells, fp, leaves, "cannot read its payload", "not disclosed")
    assert "5" not in msg.split("not disclosed")[-1]  # the component's values are not leaked
    c.ledger.disclose(raw["id"], [c.cells.address], c.viewer(c.cathode))
    submit(c, c.cells, fp, leaves)
    c.ledger.withdraw_disclosure(raw["id"], c.cells.address, c.viewer(c.cathode))
    again = product_footprint([(raw, "3")], company=c.cells.company_id)
    refused(c, c.cells, again, leaves, "not disclosed")


def test_erased_component_is_refused_and_the_audit_says_unverifiable(sqlite_chain: Chain):
    c = sqlite_chain
    a, b = _cell_parts(c)
    fp = product_footprint([(a, "1"), (b, "1")])
    submit(c, c.cells, fp, _leaves(c, c.cells, a, b))
    c.ledger.erase(a["id"], c.viewer(c.cells))
    again = product_footprint([(a, "2")])
    refused(c, c.cells, again, _leaves(c, c.cells, a), "erased")
    report = c.ledger.audit_effects()
    assert report.findings == ()
    assert any("erased" in u and a["id"] in u for u in report.unverifiable)


def test_lineage_and_parents_must_match(sqlite_chain: Chain):
    c = sqlite_chain
    a, b = _cell_parts(c)
    fp = product_footprint([(a, "1"), (b, "1")])
    refused(c, c.cells, fp, _leaves(c, c.cells, a), "2 components", "1 parents")
    swapped = product_footprint([(a, "1"), (b, "1")])
    refused(c, c.cells, swapped, _leaves(c, c.cells, b, a), "pfId")
    plain = footprint()
    refused(c, c.cells, plain, _leaves(c, c.cells, a), "needs the lineage extension")


def test_record_id_must_be_the_footprint_id_and_status_active(sqlite_chain: Chain):
    c = sqlite_chain
    fp = footprint()
    sub = signed_submission(c.ledger, c.cells.key, kind="pcf", payload=fp, record_id=str(uuid.uuid4()))
    with pytest.raises(InvalidRecord, match="footprint's id"):
        c.ledger.submit([sub])
    dep = footprint()
    dep["status"] = "Deprecated"
    refused(c, c.cells, dep, (), "must declare status Active")


def test_a_decimal_given_as_a_number_is_refused(sqlite_chain: Chain):
    c = sqlite_chain
    fp = footprint()
    fp["pcf"]["fossilGhgEmissions"] = 0.8
    refused(c, c.cells, fp, (), "fossilGhgEmissions")


def test_a_bill_of_materials_over_the_limit_is_refused(sqlite_chain: Chain):
    """257 components: more parents than an envelope holds (256), and a longer lineage."""
    c = sqlite_chain
    parts = [footprint(company=c.cells.company_id) for _ in range(257)]
    c.ledger.submit([c.cells.sign(c.ledger, p) for p in parts])
    fp = product_footprint([(p, "1") for p in parts])
    with pytest.raises(MalformedEnvelope, match="at most 256"):
        c.cells.sign(c.ledger, fp, _leaves(c, c.cells, *parts))
    refused(c, c.cells, fp, _leaves(c, c.cells, *parts[:256]), "components", "256")


def test_a_parent_that_is_not_earlier_is_refused(sqlite_chain: Chain):
    c = sqlite_chain
    a = footprint(company=c.cells.company_id)
    fp = product_footprint([(a, "1")])
    later = c.cells.sign(c.ledger, a)
    refused(c, c.cells, fp, (leaf_of(later),), "not an entry of this log")


# -- supersession and derived status -------------------------------------------------------


def test_supersession_deprecates_and_a_deprecated_footprint_is_no_component(chain: Chain):
    c = chain
    old = footprint(company=c.cells.company_id, values=("3", "2", "1"))
    submit(c, c.cells, old)
    new = footprint(company=c.cells.company_id, values=("2.9", "2", "1"), preceding=(old["id"],))
    submit(c, c.cells, new)
    state = c.ledger.record(old["id"], c.regulator).state
    assert state is not None and (state.status, state.by) == ("Deprecated", new["id"])
    fp = product_footprint([(old, "1")])
    refused(c, c.cells, fp, _leaves(c, c.cells, old), "is Deprecated", "superseded by")
    ok = product_footprint([(new, "1")])
    submit(c, c.cells, ok, _leaves(c, c.cells, new))
    assert c.ledger.audit_effects().findings == ()


def test_superseding_another_companys_footprint_is_refused(sqlite_chain: Chain):
    c = sqlite_chain
    theirs = footprint(company=c.cathode.company_id)
    submit(c, c.cathode, theirs)
    mine = footprint(company=c.cells.company_id, preceding=(theirs["id"],))
    refused(c, c.cells, mine, (), "another company's footprint")
    unknown = footprint(preceding=(str(uuid.uuid4()),))
    refused(c, c.cells, unknown, (), "is not a footprint of this log")
    assert c.ledger.record(theirs["id"], c.regulator).state.status == "Active"


def test_audit_names_a_corrupted_status_term_and_edge(chain: Chain):
    c = chain
    fps = three_tier(c)
    store, log = c.ledger.store, c.ledger.log.id
    assert c.ledger.audit_effects().findings == ()
    cell_idx = c.ledger.record(fps["cell"]["id"], c.regulator).entry.leaf_index
    with store.engine.begin() as conn:
        conn.execute(update(StateRow.__table__).where(StateRow.__table__.c.idx == cell_idx).values(status="Deprecated"))
        conn.execute(update(TermRow.__table__).where(TermRow.__table__.c.idx == cell_idx,
                                                     TermRow.__table__.c.name == "product").values(value="urn:gtin:0"))  # fmt: skip
    findings = c.ledger.audit_effects().findings
    assert any(f"entry {cell_idx}" in f and "cached Deprecated" in f and "recomputed Active" in f for f in findings)
    assert any(f"entry {cell_idx}: product = urn:gtin:0" in f for f in findings)
    assert any("urn:gtin:4012345000030" in f and "missing" in f for f in findings)


def test_concurrent_deprecation_makes_the_append_refuse(sqlite_chain: Chain):
    """Compare-and-swap: a state admission relied on that changed before the append."""
    c = sqlite_chain
    part = footprint(company=c.cells.company_id)
    submit(c, c.cells, part)
    superseder = footprint(company=c.cells.company_id, preceding=(part["id"],))
    submit(c, c.cells, superseder)
    stale = NewEntry(record_id="x", kind="pcf", author=c.cells.address, issued_at="2026-01-01T00:00:00Z",
                     leaf_hash=b"\x01" * 32, envelope=b"{}", payload=None, salt=None, visibility="private",
                     expects=((part["id"], DerivedState("Active")),))  # fmt: skip
    size = c.ledger.tree_size()
    with pytest.raises(StaleState, match="changed while the batch was admitted"):
        c.ledger.store.append(c.ledger.log.id, [stale])
    assert c.ledger.tree_size() == size


def test_duplicate_submission_is_idempotent_even_after_its_component_is_deprecated(sqlite_chain: Chain):
    c = sqlite_chain
    part = footprint(company=c.cells.company_id)
    submit(c, c.cells, part)
    fp = product_footprint([(part, "1")])
    [first] = submit(c, c.cells, fp, _leaves(c, c.cells, part))
    submit(c, c.cells, footprint(company=c.cells.company_id, preceding=(part["id"],)))
    [again] = c.ledger.submit([c.cells.submitted[fp["id"]]])
    assert again.duplicate and again.leaf_index == first.leaf_index


def test_a_private_component_earlier_in_the_same_batch_is_not_readable_by_another_author(sqlite_chain: Chain):
    """The operator relays a batch: a supplier's private footprint and a customer's roll-up
    of it. The customer may not read it (not disclosed yet), so the batch is refused."""
    c = sqlite_chain
    raw = footprint(company=c.cathode.company_id, values=("5", "4", "3"))
    raw_sub = c.cathode.sign(c.ledger, raw)
    fp = product_footprint([(raw, "2")], company=c.cells.company_id)
    size = c.ledger.tree_size()
    with pytest.raises(InvalidRecord, match="not disclosed"):
        c.ledger.submit([raw_sub, c.cells.sign(c.ledger, fp, (leaf_of(raw_sub),))])
    assert c.ledger.tree_size() == size
    public_raw = footprint(company=c.cathode.company_id, values=("5", "4", "3"))
    public_sub = c.cathode.sign(c.ledger, public_raw, visibility="public")
    ok = product_footprint([(public_raw, "2")], company=c.cells.company_id)
    c.ledger.submit([public_sub, c.cells.sign(c.ledger, ok, (leaf_of(public_sub),))])


def test_a_duplicate_with_another_payload_is_not_answered_as_a_duplicate(sqlite_chain: Chain):
    """The fallback to 'duplicate' after a refusal needs the same envelope, payload and salt."""
    from dataclasses import replace

    c = sqlite_chain
    part = footprint(company=c.cells.company_id)
    submit(c, c.cells, part)
    fp = product_footprint([(part, "1")])
    submit(c, c.cells, fp, _leaves(c, c.cells, part))
    submit(c, c.cells, footprint(company=c.cells.company_id, preceding=(part["id"],)))
    sub = c.cells.submitted[fp["id"]]
    forged = replace(sub, payload={**sub.payload, "comment": "not what was committed"})
    with pytest.raises(InvalidRecord):
        c.ledger.submit([forged])
    [again] = c.ledger.submit([sub])
    assert again.duplicate
