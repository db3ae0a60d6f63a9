"""Answering a RequestCreatedEvent: in the background, to the requester's events endpoint.

``POST /pact/3/events`` answers a RequestCreatedEvent 200 at once (after checking it and
its callback target); ``Callbacks.request_created`` then, on a worker thread, collects the
footprints meeting its criteria that the *requester* may read (``listing.collect``, at
most ``MAX_PFS``) and POSTs one event back: a ``RequestFulfilledEvent`` with them (and our
``x-tdsl-receipts`` member beside ``pfs``), or a ``RequestRejectedEvent`` with error
``NotFound`` when there are none.

**Where to.** The spec: "send the response back to the host system referenced in
``source``", after validating it. ``callback_target`` takes ``source`` as the requester's
PACT base URL (the conformance tool sends its base URL and listens at ``<base>/3/events``)
or as its events endpoint itself (a path ending in ``/3/events``, as in the spec's
examples; ``//host/path`` means https). Validated before the request is accepted (400
otherwise): an ``https`` URL (PACT host systems serve HTTPS only), no user info, query or
fragment, and a host in ``Settings.pact_callback_hosts`` — the SSRF guard: an
authenticated participant must not be able to make the ledger POST to an arbitrary
(internal) address. Entries are ``host``, ``host:port`` or ``*.domain``; the default, none,
allows no callbacks. Redirects are never followed.

**Authentication.** PACT's flow, as a client: when ``Settings.pact_callback_credentials``
has ``client_id:client_secret`` for the target (by ``host:port`` or ``host``), the ledger
gets an access token from the requester — its ``token_endpoint`` from
``<base>/.well-known/openid-configuration`` if that answers JSON on an allowed https
host, else ``<base>/auth/token`` — and sends ``Authorization: Bearer``. Without an entry
it sends no credentials.

**Delivery.** Each request (token or event) is bounded by
``Settings.pact_callback_timeout_seconds``; a connection error, a timeout, 408, 429 or a
5xx is retried up to ``pact_callback_attempts`` times, waiting ``pact_callback_backoff_
seconds`` doubled after each attempt (at most 60 s); any other answer is final. Failures
are logged (logger ``api.pact``), never raised into a request. The spec suggests retrying
for up to 72 hours; these retries live in memory, so a restart drops pending answers
(deliberate: no outbox table in the store yet). A second RequestCreatedEvent with the
same requester, ``source`` and ``id`` is acknowledged without a second answer (the spec:
one answer per request). At most ``MAX_PENDING`` answers wait at once; beyond that a new
request is refused 500 InternalError.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from api.pact.errors import PactCode, PactError
from api.pact.filters import FootprintFilter
from api.pact.listing import RECEIPTS, collect, receipt_links
from api.pact.schemas import CE_MEDIA_TYPE, EventType
from ledger.access import Viewer
from ledger.config import Settings
from ledger.errors import ConfigError, MalformedInput
from ledger.log import Ledger

log = logging.getLogger("api.pact")

MAX_PFS = 1000
MAX_PENDING = 256
WORKERS = 4
_MAX_BACKOFF = 60.0
_RETRY_STATUSES = frozenset({408, 429})
_SEEN = 10_000


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """Where an answer goes: the requester's events endpoint and its PACT base URL."""

    events_url: str
    base_url: str
    host: str  # lower-case host name or IP literal
    port: int


@dataclass(frozen=True, slots=True)
class HostRule:
    """One entry of ``Settings.pact_callback_hosts``: a host (``*.domain``: any below it) and
    optionally a port."""

    host: str
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        text = entry.strip().lower()
        if text.startswith("["):  # [IPv6] or [IPv6]:port
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":") if rest else None
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host, port = text, None
        if not host or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
            raise ConfigError(f"TDSL_PACT_CALLBACK_HOSTS: {entry!r} is not host, host:port or *.domain")
        return cls(host, None if port is None else int(port))

    def allows(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and host != self.host[2:]
        return host == self.host


def host_rules(entries: Sequence[str]) -> tuple[HostRule, ...]:
    return tuple(HostRule.parse(e) for e in entries)


def _checked_url(url: str, rules: Sequence[HostRule], what: str) -> tuple[str, str, int, str]:
    """``(https://host[:port], host, port, path)`` of an allowed https URL; else MalformedInput."""
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        raise MalformedInput(f"{what} {url[:100]!r} is not a URL") from None
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise MalformedInput(f"{what} must be an https URL of the requester's PACT API, got {url[:100]!r}")
    if parts.username is not None or parts.query or parts.fragment:
        raise MalformedInput(f"{what} must have no user info, query or fragment, got {url[:100]!r}")
    host = parts.hostname.lower()
    if not any(rule.allows(host, port) for rule in rules):
        raise MalformedInput(f"{what}: callbacks to {host}:{port} are not allowed on this ledger "
                             "(its operator lists callback hosts in TDSL_PACT_CALLBACK_HOSTS)")  # fmt: skip
    netloc = f"[{host}]" if ":" in host else host
    origin = f"https://{netloc}" + ("" if port == 443 else f":{port}")
    return origin, host, port, parts.path


def callback_target(source: str, rules: Sequence[HostRule]) -> CallbackTarget:
    """The events endpoint an answer to an event from ``source`` goes to; ``MalformedInput``
    when ``source`` is not an allowed https URL."""
    origin, host, port, path = _checked_url(source, rules, "source")
    base = path.rstrip("/").removesuffix("/3/events")
    return CallbackTarget(f"{origin}{base}/3/events", f"{origin}{base}", host, port)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Callbacks:
    """Background answers to RequestCreatedEvents for one app (started and closed by its lifespan)."""

    def __init__(self, ledger: Ledger, settings: Settings):
        self.ledger = ledger
        self.settings = settings
        self.rules = host_rules(settings.pact_callback_hosts)
        self._tls = ssl.create_default_context(cafile=None if settings.pact_callback_ca_file is None
                                               else str(settings.pact_callback_ca_file))  # fmt: skip
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="pact-callback")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending = 0
        self._seen: OrderedDict[tuple[str | None, str, str], None] = OrderedDict()

    # -- accepting ---------------------------------------------------------------------

    def target(self, source: str) -> CallbackTarget:
        return callback_target(source, self.rules)

    def request_created(self, *, viewer: Viewer, event_id: str, source: str, criteria: FootprintFilter,
                        our_source: str, our_root: str) -> None:  # fmt: skip
        """Schedule the answer to a RequestCreatedEvent (once per requester, source and id).

        ``our_source`` is the ``source`` of the answer (our events endpoint), ``our_root`` the
        app's root URL for the receipt links."""
        target = self.target(source)
        key = (viewer.address, source, event_id)
        with self._lock:
            if key in self._seen:
                log.info("RequestCreatedEvent %r from %s again: already answered", event_id, viewer.address)
                return
            if self._pending >= MAX_PENDING:
                raise PactError(PactCode.INTERNAL_ERROR, f"{MAX_PENDING} answers are pending; send the request later")
            if self._stop.is_set():
                raise PactError(PactCode.INTERNAL_ERROR, "the server is shutting down")
            self._seen[key] = None
            while len(self._seen) > _SEEN:
                self._seen.popitem(last=False)
            self._pending += 1
            self._pool.submit(self._answer, viewer, event_id, criteria, target, our_source, our_root)

    def close(self) -> None:
        """Stop: pending answers are dropped (logged), one in flight ends within its timeout."""
        with self._lock:
            self._stop.set()
            if self._pending:
                log.warning("stopping with %d answer(s) to RequestCreatedEvents not yet delivered", self._pending)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- answering ---------------------------------------------------------------------

    def _answer(self, viewer: Viewer, event_id: str, criteria: FootprintFilter, target: CallbackTarget,
                our_source: str, our_root: str) -> None:  # fmt: skip
        try:
            found = collect(self.ledger, viewer, criteria, at_most=MAX_PFS)
            if found:
                data: dict[str, Any] = {"requestEventId": event_id, "pfs": [s.footprint for s in found],
                                        RECEIPTS: receipt_links(our_root, found)}  # fmt: skip
                kind = EventType.REQUEST_FULFILLED
            else:
                data = {"requestEventId": event_id, "error": {
                    "code": PactCode.NOT_FOUND.value,
                    "message": "no footprint that the requester may read meets the request's criteria"}}  # fmt: skip
                kind = EventType.REQUEST_REJECTED
            event = {"type": kind.value, "specversion": "1.0", "id": str(uuid.uuid4()), "source": our_source,
                     "time": _now(), "data": data}  # fmt: skip
            self._deliver(target, event)
        except Exception:  # a worker must never die silently
            log.exception("answering RequestCreatedEvent %r to %s failed", event_id, target.events_url)
        finally:
            with self._lock:
                self._pending -= 1

    def _credentials(self, target: CallbackTarget) -> tuple[str, str] | None:
        creds = self.settings.pact_callback_credentials
        secret = creds.get(f"{target.host}:{target.port}") or creds.get(target.host)
        if secret is None:
            return None
        client_id, sep, client_secret = secret.get_secret_value().partition(":")
        if not sep:
            raise ValueError(f"TDSL_PACT_CALLBACK_CREDENTIALS for {target.host} must be 'client_id:client_secret'")
        return client_id, client_secret

    def _token(self, http: httpx.Client, target: CallbackTarget, creds: tuple[str, str]) -> str:
        """An access token from the requester, by PACT's authentication flow."""
        token_url = f"{target.base_url}/auth/token"
        try:
            r = http.get(f"{target.base_url}/.well-known/openid-configuration")
            found = r.json().get("token_endpoint") if r.is_success else None
            if isinstance(found, str):
                origin, _, _, path = _checked_url(found, self.rules, "token_endpoint")
                token_url = origin + path
        except (httpx.HTTPError, ValueError, AttributeError, MalformedInput) as e:
            log.info("no usable OpenID configuration at %s (%s); using %s", target.base_url, e, token_url)
        r = http.post(token_url, data={"grant_type": "client_credentials"}, auth=creds)
        r.raise_for_status()
        access = r.json().get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError(f"{token_url} answered without an access_token")
        return access

    def _deliver(self, target: CallbackTarget, event: dict[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        wait = self.settings.pact_callback_backoff_seconds
        attempts = self.settings.pact_callback_attempts
        creds = self._credentials(target)
        what = f"{event['type'].rsplit('.', 2)[-2]} for {event['data']['requestEventId']!r} to {target.events_url}"
        for attempt in range(1, attempts + 1):
            if self._stop.is_set():
                log.warning("dropped %s: the server is shutting down", what)
                return
            try:
                with httpx.Client(verify=self._tls, timeout=self.settings.pact_callback_timeout_seconds,
                                  follow_redirects=False) as http:  # fmt: skip
                    headers = {"Content-Type": f"{CE_MEDIA_TYPE}; charset=UTF-8"}
                    if creds is not None:
                        headers["Authorization"] = f"Bearer {self._token(http, target, creds)}"
                    r = http.post(target.events_url, content=body, headers=headers)
                if r.is_success:
                    log.info("sent %s (attempt %d)", what, attempt)
                    return
                if r.status_code not in _RETRY_STATUSES and r.status_code < 500:
                    log.error("%s was refused with %d: %s", what, r.status_code, r.text[:200])
                    return
                failure = f"HTTP {r.status_code}"
            except (httpx.HTTPError, ValueError) as e:
                failure = f"{type(e).__name__}: {e}"
            if attempt == attempts:
                log.error("gave up on %s after %d attempts; last: %s", what, attempts, failure)
                return
            log.warning("%s failed (attempt %d of %d: %s); retrying in %.1f s", what, attempt, attempts, failure, wait)
            if self._stop.wait(wait):
                log.warning("dropped %s: the server is shutting down", what)
                return
            wait = min(wait * 2, _MAX_BACKOFF)
