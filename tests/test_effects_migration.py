"""A database from before issue 7 (no effect tables, no ``issued_us``, ``expires_at`` or
``effects_version`` columns) opens with this release: the schema gains them, ``issued_us``
is backfilled, and the terms, edges and states are rebuilt from the log — on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, text

from ledger.datadir import open_data_dir
from ledger.log import RecordQuery
from pcf_support import footprint
from test_pcf import make_chain, submit

NEW_TABLES = ("record_terms", "record_edges", "record_states", "disclosures")
NEW_COLUMNS = (("entries", "issued_us"), ("api_tokens", "expires_at"), ("logs", "effects_version"))


def test_an_older_database_is_migrated_and_its_effects_rebuilt(tmp_path: Path, database_url: str):
    c = make_chain(tmp_path, database_url)
    old = footprint(company=c.cells.company_id, product="urn:gtin:4012345000108")
    submit(c, c.cells, old)
    submit(c, c.cells, footprint(company=c.cells.company_id, preceding=(old["id"],)))
    store = c.ledger.store
    with store.engine.begin() as conn:  # back to the schema of the release before issue 7
        conn.execute(text("DROP INDEX ix_entries_issued"))
        for table in NEW_TABLES:
            conn.execute(text(f"DROP TABLE {table}"))
        for table, column in NEW_COLUMNS:
            conn.execute(text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))
    assert not set(NEW_TABLES) & set(inspect(store.engine).get_table_names())
    store.close()

    ledger = open_data_dir(c.ledger_settings)
    try:
        assert set(NEW_TABLES) <= set(inspect(ledger.store.engine).get_table_names())
        assert ledger.log.effects_version == 1
        assert ledger.audit_effects().findings == ()
        regulator = c.regulator
        views, _ = ledger.list_records(regulator, query=RecordQuery(terms=(("product", "urn:gtin:4012345000108"),)))
        assert [v.entry.record_id for v in views] == [old["id"]]
        assert views[0].state is not None and views[0].state.status == "Deprecated"
        since = datetime(2000, 1, 1, tzinfo=UTC)
        views, _ = ledger.list_records(regulator, query=RecordQuery(kind="pcf", since=since))
        assert len(views) == 2  # issued_us was backfilled
        again = open_data_dir(c.ledger_settings)  # the rebuild happens once
        assert again.log.effects_version == 1
        again.store.close()
    finally:
        ledger.store.close()
