"""The HTML report of an audit bundle (``ledger.web.audit_report``), rendered from
``BundleReport`` values built by hand: a clean one, one with violations, failures, findings
and notices, timelines of 0, 1, 40 and 200 buckets (all-zero counts too), and data that is
markup.

The HTML is read back with ``html.parser`` into a small tree and checked for what a
regulator relies on: the verdict, violations before failures, every finding's record id,
one bar per bucket, escaping, landmarks, and no request to anywhere.

``python tests/test_audit_report_html.py OUT.html`` writes the example report to a file
(to look at in a browser).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import UTC, datetime, timedelta

import pytest
from html_tree import El, parse

from ledger.bundle_report import BundleReport, Finding, Head, KindCount, Severity, TimelineBucket
from ledger.web.audit_report import render_report_html, timeline_chart

EVIL = "<script>alert('x')</script>"
URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background", "ping",
             "cite", "manifest", "xmlns"}  # fmt: skip


# -- reading HTML back -----------------------------------------------------------------------


def finding_rows(doc: El) -> list[El]:
    rows = doc.one("table", "findings").one("tbody").find("tr")
    return [tr for tr in rows if "empty" not in (tr.attrs.get("class") or "")]


def bars(doc: El) -> list[El]:
    svgs = doc.find("svg")
    return [] if not svgs else svgs[0].find("rect", "bar")


# -- reports ---------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def timeline(n: int, *, start: datetime = T0, length: timedelta = timedelta(hours=18),
             records=lambda i: 20 + (i * 37) % 60, violations=lambda i: 0) -> list[TimelineBucket]:  # fmt: skip
    return [TimelineBucket(rfc3339(start + i * length), rfc3339(start + (i + 1) * length), records(i), violations(i))
            for i in range(n)]  # fmt: skip


def report(**changes) -> BundleReport:
    """A clean report of a month of a ledger, changed by ``changes``."""
    base = BundleReport(
        bundle="audit-2025-03-acme.tdsl-bundle", bundle_sha256="9f2c" * 16,
        origin="ledger.acme-battery.example/log", chain_id=31337, contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        since="2025-03-01T00:00:00Z", until="2025-03-31T00:00:00Z", scope={},
        start=Head(1200, "ab" * 32, block_number=18_400_112, block_hash="0x" + "cd" * 32, timestamp=1740787200, final=True),
        end=Head(3310, "ef" * 32, block_number=18_612_905, timestamp=1743379200, final=False),
        entries=2110, in_scope=2110, context=4,
        kinds=[KindCount("passport", 900, 900, 900), KindCount("access_event", 1210, 1210, 1210)],
        timeline=timeline(40),
        checks=["the bundle's format (tds-ledger/audit-bundle@1)", "the signatures of all 2110 records",
                "the checkpoints' signatures and their anchors on chain 31337"],
        verified_at="2025-04-02T10:15:42Z",
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def failing_findings() -> list[Finding]:
    """Given out of order on purpose: the page must sort them."""
    return [
        Finding(Severity.NOTICE, "state", "payload erased before the period: nothing to recompute",
                record_id="rec-notice-1", leaf_index=1201, kind="passport"),
        Finding(Severity.FAILURE, "inclusion", "inclusion proof does not reach the end checkpoint's root",
                record_id="rec-failure-1", leaf_index=1500, kind="passport", expected="ef" * 32, found="01" * 32),
        Finding(Severity.VIOLATION, "contract", "access after the contract expired", record_id="rec-violation-2",
                leaf_index=2950, kind="access_event", expected="before 2025-03-20T00:00:00Z", found="2025-03-24T08:02:11Z",
                at="2025-03-24T08:02:11Z"),
        Finding(Severity.FINDING, "backdated", "issued_at is 3 days before its admission", record_id="rec-finding-1",
                leaf_index=1700, kind="passport", expected="≤ 5 min", found="3 d 2 h"),
        Finding(Severity.VIOLATION, "contract", "purpose not permitted by the policy", record_id="rec-violation-1",
                leaf_index=1802, kind="access_event", expected="purpose: quality-control", found="purpose: marketing"),
        Finding(Severity.NOTICE, "state", "no recomputation for this kind", record_id="rec-notice-2", leaf_index=3001,
                kind="custom.thing"),
        Finding(Severity.FAILURE, "format", "the bundle has no end checkpoint note"),  # no record id, no leaf
    ]  # fmt: skip


def example_report() -> BundleReport:
    """A realistic failing report: 3 violations, 1 failure, 2 notices, 40 buckets over a month, 6 kinds."""
    v_at = {7: 1, 19: 1, 31: 1}
    findings = [
        Finding(Severity.VIOLATION, "contract", "Access after the data contract expired",
                record_id="rec_01JNB7Q4X3K9V2M8T6R5P1W0ZC", leaf_index=1433, kind="access_event",
                expected="before 2025-03-06T00:00:00Z", found="2025-03-06T09:41:07Z"),
        Finding(Severity.VIOLATION, "contract", "Purpose 'marketing' is not permitted by the policy",
                record_id="rec_01JNQ2D8M1F4H7K0N3P6S9V2XA", leaf_index=2210, kind="access_event",
                expected="purpose ∈ {quality-control, recycling}", found="marketing"),
        Finding(Severity.VIOLATION, "contract", "Consumer is not a party to the contract",
                record_id="rec_01JP3W6Y9B2E5G8J1L4N7Q0T3V", leaf_index=3012, kind="access_event",
                expected="did:web:recycler.example", found="did:web:broker.example"),
        Finding(Severity.FAILURE, "inclusion", "Inclusion proof of a context record does not reach the start root",
                record_id="rec_01JM9Z0A3C6E9G2J5L8N1Q4S7U", leaf_index=1187, kind="passport",
                expected="ab" * 32, found="7c" * 32),
        Finding(Severity.NOTICE, "state", "Payload erased before the period: state not recomputed",
                record_id="rec_01JN0K3M6P9R2T5V8X1Z4B7D0F", leaf_index=1290, kind="pcf"),
        Finding(Severity.NOTICE, "state", "No recomputation is defined for this kind",
                record_id="rec_01JNX5A8C1E4G7J0L3N6Q9S2U5", leaf_index=2604, kind="acme.battery-test"),
    ]  # fmt: skip
    kinds = [KindCount("passport", 612, 612, 612), KindCount("access_event", 980, 980, 980, violations=3),
             KindCount("contract", 41, 41, 41), KindCount("pcf", 233, 233, 230), KindCount("revocation", 9, 9, 9),
             KindCount("acme.battery-test", 235, 120, 0)]  # fmt: skip
    return report(
        scope={"participant": "did:web:acme-battery.example",
               "kinds": "passport,access_event,contract,pcf,revocation,acme.battery-test"},
        findings=findings, kinds=kinds, entries=2110, in_scope=1995,
        timeline=timeline(40, records=lambda i: 30 + (i * 37) % 50 + (25 if i % 7 in (1, 2) else 0),
                          violations=lambda i: v_at.get(i, 0)),
        checks=["Bundle format tds-ledger/audit-bundle@1 and its manifest",
                "Signatures of the 2110 records in the range and 4 context records",
                "Record commitments (leaf hashes) against the payloads carried",
                "Range: the start and end checkpoints are consistent (RFC 9162 consistency proof)",
                "Anchors: both checkpoints' roots on chain 31337, contract 0x5FbD…0aa3",
                "Inclusion proofs of the 4 context records",
                "Derived states of 1872 records recomputed and compared",
                "Access events against their contracts' ODRL policies"],
    )  # fmt: skip


# -- the verdict -----------------------------------------------------------------------------


def test_a_clean_report_says_clean_in_green():
    r = report(findings=[Finding(Severity.NOTICE, "state", "nothing to recompute", record_id="rec-n")])
    doc = parse(render_report_html(r))
    section = doc.one("section", "verdict")
    assert "clean" in section.attrs["class"].split() and "failing" not in section.attrs["class"]
    h2 = section.one("h2")
    assert re.sub(r"\s+", " ", h2.text).strip().endswith("Clean")
    assert "1 notice" in section.text
    assert "violation" not in h2.text


def test_a_failing_report_counts_what_is_wrong():
    r = report(findings=failing_findings())
    doc = parse(render_report_html(r))
    section = doc.one("section", "verdict")
    assert "failing" in section.attrs["class"].split()
    h2 = re.sub(r"\s+", " ", section.one("h2").text)
    assert "2 violations, 2 failures, 1 finding" in h2
    assert "Clean" not in h2
    assert doc.one("head").one("title").text.startswith("Audit report: 2 violations, 2 failures, 1 finding")


def test_a_finding_alone_makes_the_report_fail():
    r = report(findings=[Finding(Severity.FINDING, "late", "reported late", record_id="rec-late")])
    h2 = parse(render_report_html(r)).one("section", "verdict").one("h2").text
    assert "0 violations, 0 failures, 1 finding" in h2


def test_the_banner_names_origin_period_scope_and_range():
    doc = parse(render_report_html(report()))
    facts = re.sub(r"\s+", " ", doc.one("section", "verdict").text)
    assert "ledger.acme-battery.example/log" in facts
    assert "2025-03-01 00:00 UTC → 2025-03-31 00:00 UTC" in facts
    assert "whole log" in facts
    assert "[1200, 3310)" in facts
    assert "#18400112" in facts and "#18612905" in facts
    assert "2025-03-01 00:00:00 UTC" in facts  # the start block's time, from its timestamp
    assert "2025-03-31 00:00:00 UTC" in facts
    heads = doc.one("section", "verdict").find("div", "head")
    assert ["final" in h.text and "not final" not in h.text for h in heads] == [True, False]

    scoped_doc = parse(render_report_html(report(scope={"kind": "access_event"})))
    scoped = re.sub(r"\s+", " ", scoped_doc.one("section", "verdict").text)
    assert "kind = access_event" in scoped and "whole log" not in scoped


def test_a_head_without_anchor_says_so():
    r = report(end=Head(3310, "ef" * 32))
    heads = parse(render_report_html(r)).one("section", "verdict").find("div", "head")
    assert "not anchored" in heads[1].text and "unknown" in heads[1].text
    assert "not anchored" not in heads[0].text


# -- the findings ----------------------------------------------------------------------------


def test_violations_come_first_then_failures_findings_notices():
    r = report(findings=failing_findings())
    rows = finding_rows(parse(render_report_html(r)))
    order = [row.attrs["data-severity"] for row in rows]
    assert order == ["violation", "violation", "failure", "failure", "finding", "notice", "notice"]
    # each severity in leaf order (a finding without a leaf first)
    assert [row.find("td")[3].text for row in rows[:2]] == ["rec-violation-1", "rec-violation-2"]
    assert rows[2].find("td")[2].text == "—" and rows[3].find("td")[3].text == "rec-failure-1"


def test_every_finding_is_a_row_with_its_facts():
    findings = failing_findings()
    rows = finding_rows(parse(render_report_html(report(findings=findings))))
    assert len(rows) == len(findings)
    cells = [[td.text for td in row.find("td")] for row in rows]
    for f in findings:
        if f.record_id:
            assert sum(c[3] == f.record_id for c in cells) == 1, f.record_id
        [row] = [c for c in cells if c[5] == f.message]
        assert row[0].strip() == str(f.severity)  # the severity as a word, not only a colour
        assert row[1] == f.check
        assert row[2] == ("—" if f.leaf_index is None else str(f.leaf_index))
        assert row[6] == (f.expected or "—") and row[7] == (f.found or "—")


def test_severity_is_a_word_and_a_class():
    rows = finding_rows(parse(render_report_html(report(findings=failing_findings()))))
    for row in rows:
        badge = row.find("td")[0].one("span", "badge")
        assert f"sev-{row.attrs['data-severity']}" in badge.attrs["class"].split()
        assert badge.text == row.attrs["data-severity"]


def test_no_findings_says_so():
    doc = parse(render_report_html(report()))
    table = doc.one("table", "findings")
    assert finding_rows(doc) == []
    assert table.one("tr", "empty").text.strip() == "No findings."


def test_report_data_is_escaped():
    f = Finding(Severity.VIOLATION, "contract", EVIL, record_id='rec"><img src=x onerror=alert(1)>', kind=EVIL,
                expected="<b>", found="a & b")  # fmt: skip
    r = report(findings=[f], origin=EVIL, scope={"kind": EVIL}, checks=[EVIL],
               kinds=[KindCount(EVIL, 1, 1, 1, 1)], bundle=EVIL)  # fmt: skip
    html = render_report_html(r)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    doc = parse(html)
    assert doc.find("script") == [] and doc.find("img") == []
    [row] = finding_rows(doc)
    assert row.find("td")[5].text == EVIL  # shown as text, as it was
    assert row.find("td")[3].text == 'rec"><img src=x onerror=alert(1)>'
    assert row.find("td")[7].text == "a & b"
    assert doc.one("h1").text == f"Audit report for {EVIL}"


# -- per kind --------------------------------------------------------------------------------


def test_the_kinds_table_has_one_row_per_kind_and_totals():
    r = example_report()
    table = parse(render_report_html(r)).one("table", "kinds")
    rows = table.one("tbody").find("tr")
    got = [[row.one("th").text] + [td.text for td in row.find("td")] for row in rows]
    assert got == [[k.kind, str(k.entries), str(k.in_scope), str(k.recomputed), str(k.violations)] for k in r.kinds]
    total = [td.text for td in table.one("tfoot").find("td")]
    columns = ("entries", "in_scope", "recomputed", "violations")
    assert total == [str(sum(getattr(k, a) for k in r.kinds)) for a in columns]
    assert [td for row in rows for td in row.find("td", "hot")] != []  # access_event's 3 violations stand out


# -- the timeline ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 40, 200])
def test_one_bar_per_bucket(n):
    doc = parse(render_report_html(report(timeline=timeline(n))))
    got = bars(doc)
    assert len(got) == n
    xs = [float(b.attrs["x"]) for b in got]
    widths = [float(b.attrs["width"]) for b in got]
    assert xs == sorted(xs) and all(w > 0 for w in widths)
    assert all(xs[i] + widths[i] <= xs[i + 1] for i in range(n - 1)), "bars overlap"
    svg = doc.one("svg")
    vb = [float(v) for v in svg.attrs["viewbox"].split()]  # html.parser lowers attribute names
    for b in got:
        x, y, w, h = (float(b.attrs[a]) for a in ("x", "y", "width", "height"))
        assert vb[0] <= x and x + w <= vb[2] and vb[1] <= y and y + h <= vb[3]
    assert len(doc.one("details").one("tbody").find("tr")) == n


def test_taller_bars_for_more_records():
    counts = [0, 5, 10, 40, 20]
    doc = parse(render_report_html(report(timeline=timeline(5, records=lambda i: counts[i]))))
    heights = [float(b.attrs["height"]) for b in bars(doc)]
    assert heights[0] == 0
    assert sorted(range(5), key=lambda i: heights[i]) == sorted(range(5), key=lambda i: counts[i])
    assert heights[2] == pytest.approx(2 * heights[1])


def test_violations_are_marked_even_when_few():
    records = lambda i: 10_000  # noqa: E731
    doc = parse(render_report_html(report(timeline=timeline(30, records=records, violations=lambda i: int(i == 12)))))
    svg = doc.one("svg")
    marks = svg.find("rect", "violation")
    assert len(marks) == 1 and float(marks[0].attrs["height"]) >= 2
    assert len(svg.find("path", "violation-mark")) == 1
    bar12 = bars(doc)[12]
    assert marks[0].attrs["x"] == bar12.attrs["x"]
    assert "1 violation" in svg.one("desc").text


def test_the_description_names_the_first_buckets_with_violations():
    chart = timeline_chart(timeline(200, violations=lambda i: int(i % 10 == 3)))
    assert chart is not None and chart.violations == 20
    assert chart.flagged.startswith("Violations in 20 buckets: 3 Mar 06:00 to 4 Mar 00:00: ")
    assert chart.flagged.endswith("; and 12 more.") and chart.flagged.count("1 violation") == 8
    assert "Violations in" not in chart.summary  # the visible caption stays short


def test_all_zero_and_empty_timelines():
    zero = parse(render_report_html(report(timeline=timeline(12, records=lambda i: 0))))
    assert len(bars(zero)) == 12 and all(float(b.attrs["height"]) == 0 for b in bars(zero))
    assert "0 records, 0 violations" in zero.one("svg").one("desc").text
    assert zero.one("svg").find("rect", "violation") == []

    empty = parse(render_report_html(report(timeline=[])))
    assert empty.find("svg") == []
    section = [s for s in empty.find("section") if s.attrs.get("aria-labelledby") == "timeline-h"][0]
    assert "No timeline" in section.text
    assert timeline_chart([]) is None


def test_the_chart_has_a_title_a_description_and_date_labels():
    r = example_report()
    svg = parse(render_report_html(r)).one("svg")
    assert svg.attrs["role"] == "img"
    labelled = svg.attrs["aria-labelledby"].split()
    ids = {e.attrs.get("id"): e for e in svg.walk()}
    assert [ids[i].tag for i in labelled] == ["title", "desc"]
    desc = svg.one("desc").text
    total = sum(b.records for b in r.timeline)
    # 18-hour buckets: their times are named to the minute
    assert f"40 buckets from 1 Mar 00:00 to 31 Mar 00:00: {total} records, 3 violations." in desc
    assert "Violations in 3 buckets: 6 Mar 06:00 to 7 Mar 00:00: " in desc
    dates = [t.text for t in svg.one("g", "x-ticks").find("text")]
    assert dates == ["1 Mar", "8 Mar", "15 Mar", "22 Mar", "29 Mar"]  # a tick a week, at midnight
    xs = [float(t.attrs["x"]) for t in svg.one("g", "x-ticks").find("text")]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.02)
    counts = [int(t.text) for t in svg.one("g", "grid").find("text")]
    assert counts[0] == 0 and counts == sorted(counts) and counts[-1] >= max(b.records for b in r.timeline)


def test_whole_days_are_named_by_day():
    chart = timeline_chart(timeline(10, length=timedelta(days=1)))
    assert chart is not None and chart.bucket_span == "1 day"
    assert chart.bars[0].label == "1 Mar to 2 Mar: 20 records"
    assert [t.label for t in chart.x_ticks] == ["1 Mar", "3 Mar", "5 Mar", "7 Mar", "9 Mar", "11 Mar"]
    assert (chart.x_ticks[0].anchor, chart.x_ticks[1].anchor, chart.x_ticks[-1].anchor) == ("start", "middle", "end")


def test_a_period_across_new_year_names_the_year():
    chart = timeline_chart(timeline(20, start=datetime(2024, 12, 20, tzinfo=UTC), length=timedelta(days=1)))
    assert chart is not None and chart.x_ticks[0].label == "20 Dec 2024" and chart.x_ticks[-1].label.endswith("2025")


def test_big_counts_are_short_on_the_axis():
    chart = timeline_chart(timeline(3, records=lambda i: [1_000, 14_000, 2_400_000][i]))
    assert chart is not None and [t.label for t in chart.y_ticks] == ["0", "500k", "1M", "1.5M", "2M", "2.5M"]


def test_an_hour_in_minutes():
    chart = timeline_chart(timeline(60, start=T0 + timedelta(hours=9), length=timedelta(minutes=1)))
    assert chart is not None and chart.bucket_span == "1 minute"
    assert [t.label for t in chart.x_ticks] == [f"1 Mar 09:{m:02d}" for m in (0, 10, 20, 30, 40, 50)] + ["1 Mar 10:00"]


def test_short_periods_label_hours():
    tl = timeline(24, length=timedelta(hours=1))
    chart = timeline_chart(tl)
    assert chart is not None and chart.x_ticks[0].label == "1 Mar 00:00" and chart.bucket_span == "1 hour"


# -- the page as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize("r", [report(), report(timeline=[]), example_report(),
                               report(findings=failing_findings(), timeline=timeline(200))],
                         ids=["clean", "empty", "example", "200"])  # fmt: skip
def test_self_contained_no_requests_no_script(r):
    html = render_report_html(r)
    doc = parse(html)
    assert doc.attrs["lang"] == "en"
    assert doc.find("script") == [] and doc.find("img") == [] and doc.find("iframe") == []
    for el in doc.walk():
        assert not any(name.startswith("on") for name in el.attrs), el.tag
        for name in URL_ATTRS & set(el.attrs):
            value = el.attrs[name] or ""
            assert value.startswith(("data:", "#")), (el.tag, name, value)
    links = doc.find("link")
    assert [(x.attrs["rel"], x.attrs["href"]) for x in links] == [("icon", "data:,")]
    style = doc.one("head").one("style").text
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    assert "http://" not in html and "https://" not in html  # this report's data has no URL
    [csp] = [m for m in doc.find("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp.attrs["content"].startswith("default-src 'none';") and "script-src" not in csp.attrs["content"]


def test_a_url_in_the_data_stays_text():
    r = report(findings=[Finding(Severity.VIOLATION, "contract", "consumer https://evil.example/x is not a party",
                                 record_id="rec-url")])  # fmt: skip
    doc = parse(render_report_html(r))
    for el in doc.walk():
        for name in URL_ATTRS & set(el.attrs):
            assert "evil.example" not in (el.attrs[name] or "")
    assert doc.find("a") == []
    assert "https://evil.example/x" in finding_rows(doc)[0].find("td")[5].text


def test_landmarks_and_sections_in_order():
    doc = parse(render_report_html(example_report()))
    body = doc.one("body")
    assert [c.tag for c in body.children if isinstance(c, El)] == ["header", "main", "footer"]
    main = body.one("main")
    assert len(main.find("h1")) == 1
    sections = main.find("section")
    headings = [s.attrs["aria-labelledby"] for s in sections]
    assert headings == ["verdict-h", "findings-h", "kinds-h", "timeline-h", "checks-h", "bundle-h"]
    ids = {e.attrs.get("id"): e for e in doc.walk()}
    assert all(ids[h].tag == "h2" for h in headings)
    assert [li.text for li in main.one("ol", "checks").find("li")] == example_report().checks
    bundle = sections[-1].text
    assert "audit-2025-03-acme.tdsl-bundle" in bundle and "9f2c" * 16 in bundle and "2025-04-02 10:15:42 UTC" in bundle
    assert doc.one("head").find("meta")[0].attrs == {"charset": "utf-8"}
    assert any(m.attrs.get("name") == "viewport" for m in doc.find("meta"))


def test_the_example_has_what_it_says():
    r = example_report()
    assert (r.count(Severity.VIOLATION), r.count(Severity.FAILURE), r.count(Severity.NOTICE)) == (3, 1, 2)
    assert len(r.timeline) == 40 and len(r.kinds) == 6
    doc = parse(render_report_html(r))
    assert "3 violations, 1 failure, 0 findings" in doc.one("section", "verdict").one("h2").text
    assert len(doc.one("svg").find("rect", "violation")) == 3


if __name__ == "__main__":
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        out.write(render_report_html(example_report()))
