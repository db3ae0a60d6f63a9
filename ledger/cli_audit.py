"""``tdsl audit export`` and ``tdsl audit verify``: the regulator's audit bundle (DESIGN §11).

``export`` reads a data directory (as its operator) or asks a server (``--url``, a
regulator's or the operator's token) and writes the bundle to ``-o FILE`` (gzip when the
name ends in ``.gz``), through a temporary file renamed into place, so a failed export
leaves nothing half-written. When no anchored checkpoint covers the period's end yet, on a
data directory it seals and anchors once (as ``tdsl anchor``) and tries again.

``verify`` imports the library's pure core and a chain reader only (no store, no API):
it runs with the ledger's database gone and its server stopped. It writes the JSON and
HTML reports (``--json-report``, ``--html-report``; by default beside the bundle,
``NAME.report.json`` and ``NAME.report.html``), prints one line per finding, and exits
0 when clean, 1 with findings or failures, 2 on usage errors. A progress bar shows on a
terminal, never in a pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.bundle import MalformedBundle, Scope, open_bundle, z_time
from ledger.cli_verify import UsageError, _ChainReader
from ledger.errors import LedgerError, MalformedInput

_SHOWN = 50  # findings printed; the reports hold all


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_time(text: str, name: str) -> datetime | None:
    """``now``, ``YYYY-MM-DD`` (midnight UTC) or RFC 3339 with ``Z`` or an offset; for
    ``--until`` also ``anchored`` (None: the latest final anchor's block time)."""
    if text == "anchored" and name == "until":
        return None
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)  # anchor block times are whole seconds
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        also = ", 'anchored'" if name == "until" else ""
        raise UsageError(f"--{name} must be 'now'{also}, YYYY-MM-DD or an RFC 3339 time such as 2026-11-01T00:00:00Z, "
                         f"got {text!r}") from None  # fmt: skip
    if value.tzinfo is None:
        if len(text) > 10:
            raise UsageError(f"--{name} needs a time zone (Z or +HH:MM): {text!r}")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _period(args: argparse.Namespace) -> tuple[datetime, datetime | None]:
    since, until = parse_time(args.since, "since"), parse_time(args.until, "until")
    assert since is not None
    if until is not None and since > until:
        raise UsageError(f"--since ({since.isoformat()}) is after --until ({until.isoformat()})")
    return since, until


def _scope(args: argparse.Namespace) -> Scope:
    return Scope(participant=args.participant, agreement=args.agreement, product=args.product, kind=args.kind)


class _AtomicOutput:
    """A temporary file beside ``path``, renamed onto it on success, removed on failure."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        directory = self.path.parent if str(self.path.parent) else Path(".")
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        self.raw = os.fdopen(fd, "wb")
        if self.path.name.endswith(".gz"):
            import gzip

            self.file = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=6, mtime=0)
        else:
            self.file = self.raw
        return self.file

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if self.file is not self.raw:
                self.file.close()
            self.raw.close()
            if kind is None:
                os.replace(self.tmp, self.path)
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def cmd_audit_export(args: argparse.Namespace) -> int:
    since, until = _period(args)
    scope = _scope(args)
    if args.url is None:  # the data directory (--data-dir, TDSL_DATA_DIR or ./data), as its operator
        summary = _export_local(args, since, until, scope)
        _out(f"wrote {args.output}: the period {z_time(summary.since)} → {z_time(summary.until)}, entries "
             f"[{summary.start}, {summary.end}) of the log, {summary.in_scope} in scope, "
             f"{summary.carried} with payload, {summary.context} earlier record(s) as context, "
             f"{summary.heads} checkpoint(s); SHA-256 of its lines {summary.sha256}")  # fmt: skip
        return 0
    from ledger import cli_http

    with _AtomicOutput(args.output) as out:
        size = cli_http.download_bundle(args, since, until, scope, out)
    _out(f"wrote {args.output} ({size} bytes) from {args.url}")
    return 0


def _export_local(args: argparse.Namespace, since: datetime, until: datetime, scope: Scope):
    from ledger.bundle_export import NotYetAnchored, export_bundle
    from ledger.chain.access import anchor_reader
    from ledger.cli_commands import _settings, seal_and_anchor
    from ledger.datadir import open_data_dir

    settings = _settings(args)
    ledger = open_data_dir(settings)
    reader = anchor_reader(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract)
    try:
        with _AtomicOutput(args.output) as out:
            return export_bundle(ledger, reader, out, since=since, until=until, scope=scope,
                                 context_proofs=args.context_proofs)  # fmt: skip
    except NotYetAnchored as e:
        if until is None or until > datetime.now(UTC) or ledger.store.tree_size(ledger.log.id) == ledger.anchored_size():
            raise  # in the future, or nothing new to anchor: a new anchor would not cover it either
        _err(f"{e}\nsealing and anchoring the newer entries now …")
        seal_and_anchor(settings, ledger)
    with _AtomicOutput(args.output) as out:
        return export_bundle(ledger, reader, out, since=since, until=until, scope=scope,
                             context_proofs=args.context_proofs)  # fmt: skip


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ledger.bundle_verify import BundleFailed, VerifierIdentity, verify_bundle
    from ledger.identity import Identity

    if args.rpc is None and args.chain_db is None:
        raise UsageError("the anchors are checked on a chain: give --rpc URL or --chain-db FILE")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    ident = Identity.from_file(args.identity)
    identity = VerifierIdentity(ident.origin, ident.chain_id, ident.contract, ident.note_key, ident.operator)
    reader = _ChainReader(args, ident.chain_id, ident.contract)
    path = Path(args.bundle)
    json_path = args.json_report or _beside(path, ".report.json")
    html_path = args.html_report or _beside(path, ".report.html")
    try:
        raw = path.open("rb")
    except OSError as e:
        raise LedgerError(f"cannot read {path}: {e.strerror or e}") from e
    report = None
    with raw, _progress() as progress:
        try:
            report = verify_bundle(open_bundle(raw), identity=identity, reader=reader, name=path.name,
                                   max_backdate=timedelta(hours=args.max_backdate_hours), jobs=args.jobs,
                                   progress=progress)  # fmt: skip
        except BundleFailed as e:
            report = e.report
            _err(f"invalid: {e}")
        except MalformedBundle as e:
            _err(f"invalid bundle {path}: {e}")
            return 1
        except (MalformedInput, ValueError) as e:
            _err(f"invalid bundle {path}: {e}")
            return 1
    _write_reports(report, json_path, html_path)
    ordered = report.ordered_findings()
    for f in ordered[:_SHOWN]:
        where = " ".join(x for x in (f"leaf {f.leaf_index}" if f.leaf_index is not None else "",
                                     f"record {f.record_id}" if f.record_id else "") if x)  # fmt: skip
        line = f"{f.severity}: {f.check}: {where + ': ' if where else ''}{f.message}"
        if f.expected is not None or f.found is not None:
            line += f" (expected {f.expected}, found {f.found})"
        (_out if f.severity == "notice" else _err)(line)
    if len(ordered) > _SHOWN:
        _err(f"… and {len(ordered) - _SHOWN} more in {json_path}")
    counts = ", ".join(f"{report.count(s)} {s}{'s' if report.count(s) != 1 else ''}"
                       for s in ("violation", "failure", "finding", "notice"))  # fmt: skip
    verdict = "clean" if report.clean else "NOT clean"
    _out(f"{verdict}: {report.entries} entries [{report.start.tree_size}, {report.end.tree_size}) of {report.origin}, "
         f"{report.in_scope} in scope; {counts}")  # fmt: skip
    _out(f"reports: {json_path} and {html_path}")
    return 0 if report.clean else 1


def _beside(path: Path, suffix: str) -> Path:
    name = path.name
    for ext in (".jsonl.gz", ".jsonl", ".gz", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return path.with_name(name + suffix)


def _write_reports(report, json_path: Path, html_path: Path) -> None:
    from ledger.web.audit_report import render_report_html

    json_path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(render_report_html(report), encoding="utf-8")


class _progress:
    """A rich progress bar on a terminal (stderr), nothing in a pipe."""

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            transient=True)  # fmt: skip
        self.bar.start()
        self.task = self.bar.add_task("entries", total=None)

        def update(done: int, total: int) -> None:
            self.bar.update(self.task, completed=done, total=total)

        return update

    def __exit__(self, *exc) -> None:
        if hasattr(self, "bar"):
            self.bar.stop()
