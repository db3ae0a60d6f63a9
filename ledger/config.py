"""The one way to configure TDS Ledger: environment variables ``TDSL_*`` (pydantic-settings).

Command-line options of ``tdsl`` override the matching variable. Secrets (the keystore
password, a raw operator key) are only ever read from the environment, never from a
file in the repository or from code.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TDSL_", extra="ignore")

    #: Where the SQLite file, the keystore, the note key and identity.json live.
    data_dir: Path = Path("data")
    #: SQLAlchemy URL; default ``sqlite:///<data_dir>/ledger.db``. PostgreSQL:
    #: ``postgresql+psycopg://user@host:5432/db``.
    database_url: str | None = None
    #: Seal a checkpoint once this many entries are unsealed ...
    seal_every_entries: int = Field(default=1000, ge=1)
    #: ... or once the oldest unsealed entry is this old (seconds).
    seal_interval_seconds: float = Field(default=5.0, gt=0)
    #: ``POST /v1/records``: concurrent single submissions are appended together, one durable
    #: commit per group (``ledger.group_commit``). Off: each request commits on its own (the
    #: benchmark's baseline).
    group_commit: bool = True
    #: Largest HTTP request body accepted (bytes).
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: JSON-RPC URL of the anchor chain; unset: the embedded chain under the data directory.
    rpc_url: str | None = None
    #: JSON-RPC chains: blocks on top of an anchor before it counts as final (or the node's
    #: ``finalized`` block, where it has one). The embedded chain is final when mined.
    confirmations: int = Field(default=12, ge=0)
    #: JSON-RPC chains: seconds an anchor transaction may stay pending before it is
    #: replaced with fees raised by 12.5 % (one whose fee cap is under the next base fee
    #: is replaced at once).
    anchor_stuck_seconds: float = Field(default=60.0, gt=0)
    #: Highest fee cap (``maxFeePerGas``) an anchor transaction may offer, in gwei.
    anchor_max_fee_gwei: float = Field(default=500.0, gt=0)
    #: Seconds one JSON-RPC request may take before it counts as failed (and is retried).
    rpc_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Password of the operator keystore (``<data_dir>/operator.keystore.json``).
    keystore_password: SecretStr | None = None
    #: Alternatively, the operator's secp256k1 key as hex (e.g. from a secret manager).
    operator_key: SecretStr | None = None
    #: PACT API (``/pact``, docs/pact.md): seconds an access token from ``/pact/auth/token`` is valid.
    pact_token_ttl_seconds: int = Field(default=3600, ge=1, le=86400)
    #: PACT API: hosts that answers to a RequestCreatedEvent may be POSTed to (its ``source``),
    #: as ``host``, ``host:port`` or ``*.domain``; JSON list. Empty: no callbacks (such requests
    #: are refused 400). The guard against making the ledger call internal addresses (SSRF).
    pact_callback_hosts: list[str] = Field(default_factory=list)
    #: PACT API: ``client_id:client_secret`` the ledger presents to a callback host's token
    #: endpoint, by ``host:port`` or ``host``; JSON object. A host without one is called
    #: without credentials.
    pact_callback_credentials: dict[str, SecretStr] = Field(default_factory=dict)
    #: PACT API: PEM file of the CA certificates trusted for callbacks (unset: the system's).
    pact_callback_ca_file: Path | None = None
    #: PACT API: seconds one callback request (token or event) may take.
    pact_callback_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: PACT API: attempts to deliver one answer; connection errors, 408, 429 and 5xx are retried ...
    pact_callback_attempts: int = Field(default=8, ge=1, le=30)
    #: ... after this many seconds, doubled after each attempt (at most 60 s).
    pact_callback_backoff_seconds: float = Field(default=1.0, gt=0, le=60)

    #: The public base URL of the ledger (passports, DESIGN §12): Digital Link URIs, QR codes
    #: and did:web identifiers are written against it, e.g. ``https://dpp.example.com``.
    public_url: str = "http://127.0.0.1:8000"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ledger.db').resolve()}"
