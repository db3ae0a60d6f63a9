"""A ledger API server process for the group-commit durability tests.

``python -m tests.workers.server DATA_DIR DATABASE_URL PORT`` opens the data directory
and serves the API with uvicorn on 127.0.0.1:PORT, group commit on, sealer off, until
it is killed. The test polls ``/v1/health`` to know it is up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from api import create_app
from ledger.config import Settings
from ledger.datadir import open_data_dir


def main(argv: list[str]) -> None:
    data_dir, url, port = argv[:3]
    settings = Settings(data_dir=Path(data_dir), database_url=url, group_commit=True)
    app = create_app(open_data_dir(settings), settings, start_sealer=False)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
