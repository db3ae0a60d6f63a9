"""What admitting a record does besides appending it (DESIGN §8): typed values only.

A kind's admission check returns an ``Admitted`` built from these values; the ledger
writes them in the same transaction as the entry, and ``ledger.derive`` recomputes them
from the log for the audit. Nothing here does I/O.

- ``Term``: an index term the record is filed under (``product = urn:gtin:…``), so
  ``GET /v1/records?product=…`` finds it without reading payloads.
- ``Edge``: a typed edge from the new record to an earlier one (or one earlier in the
  same batch), named by record id. Every envelope parent gets one; kinds may add more
  (a footprint ``supersedes`` the ids in its ``precedingPfIds``).
- ``DerivedState``: a record's derived status (a footprint's ``Active``/``Deprecated``),
  ``by`` naming the record whose admission set it. ``StateChange`` sets another record's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import InvalidRecord

#: Index term names a kind may file records under (the query parameters of /v1/records).
#: ``item``: a passport's GS1 Digital Link path (``/01/<GTIN-14>/21/<serial>``).
TERM_NAMES = frozenset({"product", "dataset", "agreement", "company", "provider", "consumer", "item",
                        "passport_root", "status_index"})  # fmt: skip
#: Terms that at most one entry of a log may hold: the store refuses a batch that would
#: file a second (``Conflict``, naming the holder). ``passport_root``: the first passport
#: of a Digital Link path (later ones supersede it); ``status_index``: ``<issuer>:<index>``,
#: a passport's place in its issuer's status list.
UNIQUE_TERMS = frozenset({"passport_root", "status_index"})
MAX_TERM_VALUE = 255
#: Terms whose values compare case-insensitively — product and company URNs, as PACT filters
#: them — and the parties' addresses of a contract are stored and queried lowercased
#: (``term_value``).
FOLDED_TERMS = frozenset({"product", "company", "provider", "consumer", "status_index"})  # addresses folded too


def term_value(name: str, value: str) -> str:
    """The value as stored and compared for the term ``name``."""
    return value.lower() if name in FOLDED_TERMS else value


class EdgeType(StrEnum):
    """How a record relates to an earlier one."""

    COMPONENT_OF = "component_of"  # the target is a component of the source (a PCF's input)
    SUPERSEDES = "supersedes"  # the source replaces the target (a new version)
    UNDER_AGREEMENT = "under_agreement"  # the source happened under the target agreement
    DESCRIBES = "describes"  # the source describes the target (a passport, its footprint)
    DERIVES_FROM = "derives_from"  # any other parent


@dataclass(frozen=True, slots=True)
class Term:
    name: str
    value: str

    def __post_init__(self) -> None:
        if self.name not in TERM_NAMES:
            raise ValueError(f"unknown index term {self.name!r}; terms are {sorted(TERM_NAMES)}")
        if not 0 < len(self.value) <= MAX_TERM_VALUE:
            raise InvalidRecord(f"index term {self.name} must be 1..{MAX_TERM_VALUE} characters, got {len(self.value)}")
        object.__setattr__(self, "value", term_value(self.name, self.value))


@dataclass(frozen=True, slots=True)
class Edge:
    type: EdgeType
    target: str  # record id of the earlier record


#: Facts one derived state may carry, and the length of a fact's value.
MAX_FACTS, MAX_FACT_VALUE = 32, 500


@dataclass(frozen=True, slots=True)
class DerivedState:
    """``status`` and ``reason`` say what a reader sees first (``Active``; ``violation``:
    why); ``facts`` are the further values the kind derived, as (name, text) pairs sorted
    by name (an access event's ``count`` and ``late``, an agreement's ``events``)."""

    status: str
    reason: str = ""
    by: str | None = None  # record id whose admission set this state (None: the record's own)
    facts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.facts:
            facts = tuple(sorted(dict(self.facts).items()))
            if len(facts) != len(self.facts) or len(facts) > MAX_FACTS:
                raise ValueError(f"derived facts must have distinct names, at most {MAX_FACTS}: {self.facts}")
            if any(not isinstance(v, str) or len(v) > MAX_FACT_VALUE for _, v in facts):
                raise ValueError(f"derived fact values are strings of at most {MAX_FACT_VALUE} characters")
            object.__setattr__(self, "facts", facts)

    def fact(self, name: str, default: str | None = None) -> str | None:
        for n, v in self.facts:
            if n == name:
                return v
        return default

    def with_facts(self, **changes: str) -> DerivedState:
        """The same state with these facts set (others kept)."""
        merged = dict(self.facts) | changes
        return DerivedState(self.status, self.reason, self.by, tuple(merged.items()))


@dataclass(frozen=True, slots=True)
class StateChange:
    target: str  # record id of an earlier record whose derived state changes
    state: DerivedState
