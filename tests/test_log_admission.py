"""Admission: every rule of ``Ledger.submit`` refused with a clear message, nothing stored.

Each refusal is checked the same way (``_refused``): the error class, a fragment of the
message that names the broken rule, and that the store is exactly as before — tree size
unchanged, no refused record id stored, no participant registered by a refused batch.

Rules whose outcome depends on what is stored (registered authors and roles, parents,
batch atomicity, duplicates) run on SQLite and PostgreSQL (``world``, see
``test_log_fixtures``); checks of the envelope alone run on SQLite only
(``sqlite_world``) to keep the suite fast.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_log_fixtures are parameters here)
from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from ledger_fixtures import check_whole_tree
from test_log_fixtures import (  # noqa: F401
    backend_url,
    dataset,
    new_participant,
    shared_postgres_url,
    sqlite_world,
    world,
)

from ledger.datadir import now_rfc3339, register_participant, signed_submission
from ledger.envelope import (
    Domain,
    Envelope,
    address_of,
    make_commitment,
    new_salt,
    sign_envelope,
)
from ledger.errors import (
    Conflict,
    InvalidRecord,
    InvalidSignature,
    LedgerError,
    MalformedInput,
    NotFound,
)
from ledger.log import MAX_BATCH, MAX_CLOCK_SKEW, Ledger, Submission

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# -- fixtures and helpers ---------------------------------------------------------------


def participant_payload(address: str, roles: list[str], name: str = "Module maker") -> dict:
    return {"address": address, "name": name, "legal_id": {"scheme": "LEI", "value": "529900T8BM49AURSDO55"}, "roles": roles}


def sign(
    ledger: Ledger, key: bytes, payload: object, *, kind: str = "dataset", log: str | None = None,
    domain: Domain | None = None, issued_at: str | None = None, parents: tuple[str, ...] = (),
    record_id: str | None = None,
) -> Submission:  # fmt: skip
    """A submission signed with ``key``, every signed field overridable."""
    salt = new_salt()
    envelope = sign_envelope(
        log=log or ledger.origin, kind=kind, id=record_id or str(uuid.uuid4()),
        issued_at=issued_at or now_rfc3339(), commitment=make_commitment(payload, salt), parents=parents,
        private_key=key, domain=domain or ledger.domain,
    )  # fmt: skip
    return Submission(envelope, payload, salt)


def _snapshot(ledger: Ledger) -> tuple[int, list]:
    return ledger.store.tree_size(ledger.log.id), ledger.store.participants(ledger.log.id)


def _refused(ledger: Ledger, subs: list[Submission], error: type[Exception], *fragments: str, **kw) -> LedgerError:
    """Submit, expect ``error`` naming the rule, and check that nothing was stored."""
    before = _snapshot(ledger)
    with pytest.raises(error) as info:
        ledger.submit(subs, **kw)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in the error message {message!r}"
    assert _snapshot(ledger) == before, "a refused batch changed the store"
    for sub in subs:
        with pytest.raises(NotFound):
            ledger.store.entry_by_record_id(ledger.log.id, sub.envelope.id)
    check_whole_tree(ledger)
    return info.value


def _resign_high_s(env: Envelope) -> Envelope:
    """The same signature with s replaced by n - s (and v flipped): valid ECDSA, not canonical."""
    sig = bytes.fromhex(env.sig[2:])
    s = int.from_bytes(sig[32:64], "big")
    v = 28 if sig[64] == 27 else 27
    return dataclasses.replace(env, sig="0x" + (sig[:32] + (_N - s).to_bytes(32, "big") + bytes([v])).hex())


# -- the envelope alone (SQLite only) ---------------------------------------------------


def test_a_valid_dataset_is_admitted(sqlite_world):
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset())
    [appended] = w.ledger.submit([sub])
    assert not appended.duplicate
    assert appended.leaf_hash == sub.envelope.leaf_hash()
    stored = w.ledger.store.entry_by_record_id(w.ledger.log.id, sub.envelope.id)
    assert stored.envelope == sub.envelope.to_bytes()
    assert stored.leaf_index == appended.leaf_index == check_whole_tree(w.ledger) - 1


def test_envelope_for_another_log_is_refused(sqlite_world):
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset(), log="other.example/log")
    _refused(w.ledger, [sub], InvalidRecord, "record 0", "'other.example/log'", w.ledger.origin)


def test_unknown_kind_is_refused(sqlite_world):
    w = sqlite_world
    sub = sign(w.ledger, w.operator_key, {"anything": 1}, kind="no_such_kind")
    _refused(w.ledger, [sub], InvalidRecord, "unknown record kind 'no_such_kind'", "dataset", "participant", "pcf")


@pytest.mark.parametrize("position", [2, 40, 66, 129])
def test_tampered_signature_is_refused(sqlite_world, position):
    """A changed hex digit in r, s or v: no recovery, or recovery to another address."""
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset())
    sig = sub.envelope.sig
    digit = "1" if sig[position] != "1" else "2"
    if position == 129:  # v: 27 (1b) <-> 28 (1c)
        digit = "c" if sig[position] == "b" else "b"
    bad = dataclasses.replace(sub.envelope, sig=sig[:position] + digit + sig[position + 1 :])
    _refused(w.ledger, [dataclasses.replace(sub, envelope=bad)], InvalidSignature, "record 0")


def test_high_s_signature_is_refused(sqlite_world):
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset())
    bad = _resign_high_s(sub.envelope)
    _refused(w.ledger, [dataclasses.replace(sub, envelope=bad)], InvalidSignature, "high")


def test_signature_by_another_key_than_the_author_is_refused(sqlite_world):
    """The operator's key signs a record that claims the provider as author."""
    w = sqlite_world
    salt = new_salt()
    payload = dataset()
    fields = {
        "log": w.ledger.origin, "kind": "dataset", "id": str(uuid.uuid4()), "issued_at": now_rfc3339(),
        "commitment": make_commitment(payload, salt), "parents": (),
    }  # fmt: skip
    by_operator = sign_envelope(**fields, private_key=w.operator_key, domain=w.ledger.domain)
    claimed = dataclasses.replace(by_operator, author=w.provider)
    _refused(w.ledger, [Submission(claimed, payload, salt)], InvalidSignature, "not by the author", w.provider)


@pytest.mark.parametrize("other", ["chain_id", "contract"])
def test_envelope_signed_for_another_deployment_is_refused(sqlite_world, other):
    """The same record signed under another EIP-712 domain, replayed onto this log."""
    w = sqlite_world
    d = w.ledger.domain
    if other == "chain_id":
        domain = Domain(chain_id=1, verifying_contract=d.verifying_contract)
    else:
        domain = Domain(chain_id=d.chain_id, verifying_contract=address_of(os.urandom(32)))
    sub = sign(w.ledger, w.provider_key, dataset(), domain=domain)
    _refused(w.ledger, [sub], InvalidSignature, "not by the author")
    # the very same record signed for this log is fine: only the domain was wrong
    ok = sign(w.ledger, w.provider_key, dataset(), record_id=sub.envelope.id)
    assert w.ledger.submit([ok])[0].record_id == sub.envelope.id


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_issued_at_ten_minutes_ahead_is_refused(sqlite_world):
    w = sqlite_world
    now = datetime.now(UTC).replace(microsecond=0)
    sub = sign(w.ledger, w.provider_key, dataset(), issued_at=_rfc3339(now + timedelta(minutes=10)))
    _refused(w.ledger, [sub], InvalidRecord, "in the future", now=now)


def test_issued_at_just_over_the_skew_is_refused(sqlite_world):
    w = sqlite_world
    now = datetime.now(UTC).replace(microsecond=0)
    sub = sign(w.ledger, w.provider_key, dataset(), issued_at=_rfc3339(now + MAX_CLOCK_SKEW + timedelta(seconds=1)))
    _refused(w.ledger, [sub], InvalidRecord, "in the future", now=now)


@pytest.mark.parametrize("ahead", [timedelta(minutes=4), MAX_CLOCK_SKEW, -timedelta(days=400)])
def test_issued_at_within_the_skew_or_in_the_past_is_admitted(sqlite_world, ahead):
    w = sqlite_world
    now = datetime.now(UTC).replace(microsecond=0)
    sub = sign(w.ledger, w.provider_key, dataset(), issued_at=_rfc3339(now + ahead))
    [appended] = w.ledger.submit([sub], now=now)
    assert not appended.duplicate


def test_payload_not_matching_the_commitment_is_refused(sqlite_world):
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset("the signed title"))
    swapped = dataclasses.replace(sub, payload=dataset("another title"))
    _refused(w.ledger, [swapped], InvalidRecord, "commitment")


def test_wrong_salt_is_refused(sqlite_world):
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset())
    flipped = bytes([sub.salt[0] ^ 1]) + sub.salt[1:]
    _refused(w.ledger, [dataclasses.replace(sub, salt=flipped)], InvalidRecord, "commitment")


def test_payload_that_breaks_the_kind_schema_is_refused(sqlite_world):
    w = sqlite_world
    bad = dict(dataset(), surprise="extra field")
    _refused(w.ledger, [sign(w.ledger, w.provider_key, bad)], InvalidRecord, "dataset payload", "surprise")
    no_hash = {"title": "x", "content_hash": "md5:abc"}
    _refused(w.ledger, [sign(w.ledger, w.provider_key, no_hash)], InvalidRecord, "content_hash")


def test_participant_record_not_by_the_operator_is_refused(sqlite_world):
    w = sqlite_world
    stranger = address_of(os.urandom(32))
    sub = sign(w.ledger, w.provider_key, participant_payload(stranger, ["provider"]), kind="participant")
    _refused(w.ledger, [sub], InvalidRecord, "participant", "operator")
    assert w.ledger.store.participant(w.ledger.log.id, stranger) is None


def test_participant_with_an_unknown_role_is_refused(sqlite_world):
    w = sqlite_world
    someone = address_of(os.urandom(32))
    sub = sign(w.ledger, w.operator_key, participant_payload(someone, ["provider", "admin"]), kind="participant")
    _refused(w.ledger, [sub], InvalidRecord, "roles", "admin")
    assert w.ledger.store.participant(w.ledger.log.id, someone) is None


def test_participant_with_a_repeated_role_is_refused(sqlite_world):
    w = sqlite_world
    someone = address_of(os.urandom(32))
    sub = sign(w.ledger, w.operator_key, participant_payload(someone, ["provider", "provider"]), kind="participant")
    _refused(w.ledger, [sub], InvalidRecord, "distinct")


def test_operator_role_for_another_address_is_refused(sqlite_world):
    w = sqlite_world
    someone = address_of(os.urandom(32))
    sub = sign(w.ledger, w.operator_key, participant_payload(someone, ["operator"]), kind="participant")
    _refused(w.ledger, [sub], InvalidRecord, "operator role")
    assert w.ledger.store.participant(w.ledger.log.id, someone) is None


def test_non_checksummed_participant_address_is_refused(sqlite_world):
    w = sqlite_world
    someone = address_of(os.urandom(32))
    assert someone.lower() != someone
    sub = sign(w.ledger, w.operator_key, participant_payload(someone.lower(), ["provider"]), kind="participant")
    _refused(w.ledger, [sub], InvalidRecord, "EIP-55", someone)
    assert w.ledger.store.participant(w.ledger.log.id, someone) is None


def test_batch_over_max_batch_is_refused(sqlite_world):
    w = sqlite_world
    subs = [sign(w.ledger, w.provider_key, dataset(f"d{i}")) for i in range(MAX_BATCH + 1)]
    _refused(w.ledger, subs, InvalidRecord, f"at most {MAX_BATCH}", str(MAX_BATCH + 1))


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda d: d.pop("salt"), "keys"),
        (lambda d: d.update(extra=1), "keys"),
        (lambda d: d.update(salt="AB" * 32), "salt"),
        (lambda d: d.update(salt="ab" * 31), "salt"),
        (lambda d: d.update(visibility="secret"), "visibility"),
        (lambda d: d["envelope"].pop("sig"), "sig"),
        (lambda d: d["envelope"].update(author=d["envelope"]["author"].lower()), "EIP-55"),
    ],
    ids=["no-salt", "extra-key", "uppercase-salt", "short-salt", "bad-visibility", "no-sig", "lowercase-author"],
)
def test_malformed_submission_json_is_refused(sqlite_world, change, fragment):
    w = sqlite_world
    sub = sign(w.ledger, w.provider_key, dataset())
    doc = {"envelope": sub.envelope.to_json(), "payload": sub.payload, "salt": sub.salt.hex()}
    Submission.from_json(doc)  # the unchanged document parses
    change(doc)
    with pytest.raises(MalformedInput, match=fragment):
        Submission.from_json(doc)


# -- rules that depend on stored state (SQLite and PostgreSQL) ---------------------------


def test_unregistered_author_is_refused(world):
    stranger_key = os.urandom(32)
    sub = sign(world.ledger, stranger_key, dataset())
    _refused(world.ledger, [sub], InvalidRecord, "not a registered participant", address_of(stranger_key))


def test_author_without_the_needed_role_is_refused(world):
    consumer_key, consumer = new_participant(world, ["consumer"])
    sub = sign(world.ledger, consumer_key, dataset())
    _refused(world.ledger, [sub], InvalidRecord, consumer, "consumer", "provider")


def test_deactivated_participant_is_refused(world):
    """An empty role list deactivates a participant; its next record is refused."""
    register_participant(
        world.ledger, world.operator_key, address=world.provider, name="Cell supplier", legal_id=("LEI", "X"), roles=[]
    )
    _refused(world.ledger, [sign(world.ledger, world.provider_key, dataset())], InvalidRecord, world.provider)


def test_operator_may_author_any_kind(world):
    [appended] = world.ledger.submit([sign(world.ledger, world.operator_key, dataset())])
    assert not appended.duplicate


def test_parent_not_in_the_log_is_refused(world):
    missing = hashlib.sha256(b"never appended").hexdigest()
    sub = sign(world.ledger, world.provider_key, dataset(), parents=(missing,))
    _refused(world.ledger, [sub], InvalidRecord, f"parent {missing}")


def test_parent_from_another_log_in_the_same_database_is_refused(world, tmp_path):
    """Parents are looked up in this log only, not in a neighbour sharing the database."""
    other = world.ledger.store.create_log(
        origin="other.example/log", chain_id=world.ledger.log.chain_id, contract=world.ledger.log.contract,
        operator=world.ledger.log.operator, note_vkey=world.ledger.log.note_vkey,
    )  # fmt: skip
    neighbour = Ledger(world.ledger.store, other)
    foreign = sign(neighbour, world.operator_key, dataset("lives next door"))
    neighbour.submit([foreign])
    sub = sign(world.ledger, world.provider_key, dataset(), parents=(foreign.envelope.leaf_hash().hex(),))
    _refused(world.ledger, [sub], InvalidRecord, "is not an entry of this log")


def test_dataset_with_another_authors_dataset_as_parent_is_refused(world):
    other_key, other = new_participant(world, ["provider"])
    theirs = sign(world.ledger, other_key, dataset("theirs"))
    world.ledger.submit([theirs])
    mine = sign(world.ledger, world.provider_key, dataset("mine"), parents=(theirs.envelope.leaf_hash().hex(),))
    _refused(world.ledger, [mine], InvalidRecord, "same provider", other)


def test_dataset_with_a_non_dataset_parent_is_refused(world):
    """The provider's own registration record is not an earlier version of a dataset."""
    registration = world.ledger.store.participant(world.ledger.log.id, world.provider)
    reg_entry = world.ledger.store.entry_at(world.ledger.log.id, registration.entry_idx)
    sub = sign(world.ledger, world.provider_key, dataset(), parents=(reg_entry.leaf_hash.hex(),))
    _refused(world.ledger, [sub], InvalidRecord, "is a participant")


def test_new_version_of_own_dataset_is_admitted(world):
    v1 = sign(world.ledger, world.provider_key, dataset("v1"))
    world.ledger.submit([v1])
    v2 = sign(world.ledger, world.provider_key, dataset("v2"), parents=(v1.envelope.leaf_hash().hex(),))
    [appended] = world.ledger.submit([v2])
    assert not appended.duplicate


def test_parents_earlier_in_the_same_batch_are_admitted(world):
    """Register a provider, let it publish v1 and v2 (v2 naming v1): one atomic batch."""
    key = os.urandom(32)
    address = address_of(key)
    reg = sign(world.ledger, world.operator_key, participant_payload(address, ["provider"]), kind="participant")
    v1 = sign(world.ledger, key, dataset("v1"))
    v2 = sign(world.ledger, key, dataset("v2"), parents=(v1.envelope.leaf_hash().hex(),))
    size = world.ledger.store.tree_size(world.ledger.log.id)
    appended = world.ledger.submit([reg, v1, v2])
    assert [a.leaf_index for a in appended] == [size, size + 1, size + 2]
    assert world.ledger.store.participant(world.ledger.log.id, address).roles == {"provider"}
    assert check_whole_tree(world.ledger) == size + 3


def test_parent_later_in_the_same_batch_is_refused(world):
    v1 = sign(world.ledger, world.provider_key, dataset("v1"))
    v2 = sign(world.ledger, world.provider_key, dataset("v2"), parents=(v1.envelope.leaf_hash().hex(),))
    _refused(world.ledger, [v2, v1], InvalidRecord, "record 0", "is not an entry of this log")


def test_a_bad_last_record_refuses_the_whole_batch(world):
    """A registration, a good dataset, then a dataset with a wrong salt: none is stored."""
    key = os.urandom(32)
    address = address_of(key)
    reg = sign(world.ledger, world.operator_key, participant_payload(address, ["provider"]), kind="participant")
    good = sign(world.ledger, key, dataset("good"))
    bad = sign(world.ledger, world.provider_key, dataset("bad"))
    bad = dataclasses.replace(bad, salt=new_salt())
    _refused(world.ledger, [reg, good, bad], InvalidRecord, f"record 2 ({bad.envelope.id})", "commitment")
    assert world.ledger.store.participant(world.ledger.log.id, address) is None


def test_a_record_relying_on_a_refused_registration_is_not_admitted_later(world):
    """After a refused batch the would-be participant is not registered: its record is refused."""
    key = os.urandom(32)
    address = address_of(key)
    reg = sign(world.ledger, world.operator_key, participant_payload(address, ["provider"]), kind="participant")
    bad = dataclasses.replace(sign(world.ledger, key, dataset()), salt=new_salt())
    _refused(world.ledger, [reg, bad], InvalidRecord, "record 1")
    _refused(world.ledger, [sign(world.ledger, key, dataset())], InvalidRecord, "not a registered participant")


def test_duplicate_submit_is_idempotent(world):
    sub = sign(world.ledger, world.provider_key, dataset())
    [first] = world.ledger.submit([sub])
    size = world.ledger.store.tree_size(world.ledger.log.id)
    [again] = world.ledger.submit([sub])
    assert again.duplicate and not first.duplicate
    assert (again.leaf_index, again.leaf_hash) == (first.leaf_index, first.leaf_hash)
    # also inside a batch, next to a new record, and twice in one batch
    fresh = sign(world.ledger, world.provider_key, dataset("fresh"))
    results = world.ledger.submit([sub, fresh, fresh])
    assert [r.duplicate for r in results] == [True, False, True]
    assert results[1].leaf_index == results[2].leaf_index == size
    assert check_whole_tree(world.ledger) == size + 1


def test_same_id_with_other_content_is_a_conflict(world):
    sub = sign(world.ledger, world.provider_key, dataset("original"))
    world.ledger.submit([sub])
    other = sign(world.ledger, world.provider_key, dataset("changed"), record_id=sub.envelope.id)
    newcomer = sign(world.ledger, world.provider_key, dataset("newcomer"))
    before = _snapshot(world.ledger)
    with pytest.raises(Conflict, match=sub.envelope.id):
        world.ledger.submit([newcomer, other])
    assert _snapshot(world.ledger) == before
    with pytest.raises(NotFound):
        world.ledger.store.entry_by_record_id(world.ledger.log.id, newcomer.envelope.id)
    stored = world.ledger.store.entry_by_record_id(world.ledger.log.id, sub.envelope.id)
    assert stored.envelope == sub.envelope.to_bytes()


def test_same_id_twice_in_one_new_batch_with_other_content_is_a_conflict(world):
    a = sign(world.ledger, world.provider_key, dataset("a"))
    b = sign(world.ledger, world.provider_key, dataset("b"), record_id=a.envelope.id)
    before = _snapshot(world.ledger)
    with pytest.raises(Conflict):
        world.ledger.submit([a, b])
    assert _snapshot(world.ledger) == before
    with pytest.raises(NotFound):
        world.ledger.store.entry_by_record_id(world.ledger.log.id, a.envelope.id)


def test_replayed_old_registration_does_not_restore_old_roles(world):
    """The newest registration wins; resubmitting an older one is a duplicate, not a change."""
    key = os.urandom(32)
    address = address_of(key)
    as_provider = sign(world.ledger, world.operator_key, participant_payload(address, ["provider"]), kind="participant")
    as_consumer = sign(world.ledger, world.operator_key, participant_payload(address, ["consumer"]), kind="participant")
    world.ledger.submit([as_provider])
    world.ledger.submit([as_consumer])
    [replay] = world.ledger.submit([as_provider])
    assert replay.duplicate
    assert world.ledger.store.participant(world.ledger.log.id, address).roles == {"consumer"}
    _refused(world.ledger, [sign(world.ledger, key, dataset())], InvalidRecord, "consumer")


def test_signed_submission_helper_round_trips_through_json(world):
    """What a client sends (Submission JSON) is admitted exactly as built."""
    sub = signed_submission(world.ledger, world.provider_key, kind="dataset", payload=dataset(), visibility="private")
    doc = {"envelope": sub.envelope.to_json(), "payload": sub.payload, "salt": sub.salt.hex(), "visibility": "private"}
    [appended] = world.ledger.submit([Submission.from_json(doc)])
    stored = world.ledger.store.entry_by_record_id(world.ledger.log.id, sub.envelope.id)
    assert stored.visibility == "private" and stored.leaf_index == appended.leaf_index


def test_unknown_visibility_is_refused(world):
    """A library caller building ``Submission`` directly gets the same check as the JSON path.

    Regression: an unknown visibility used to be stored as is on SQLite (and then read as
    private) and to fail on PostgreSQL with a raw ``sqlalchemy.exc.DataError`` (varchar(8)).
    """
    sub = dataclasses.replace(sign(world.ledger, world.provider_key, dataset()), visibility="internal-only")
    _refused(world.ledger, [sub], InvalidRecord, "visibility", "internal-only")


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda p: p.update(extra="x"), "extra"),
        (lambda p: p.pop("legal_id"), "legal_id"),
        (lambda p: p.update(roles="provider"), "roles"),
        (lambda p: p.update(name=""), "name"),
        (lambda p: p["legal_id"].update(scheme="SSN"), "scheme"),
        (lambda p: p.update(address=p["address"][:-1]), "address"),
    ],
    ids=["extra-field", "no-legal-id", "roles-as-string", "empty-name", "unknown-id-scheme", "short-address"],
)
def test_participant_payload_that_breaks_the_schema_is_refused(sqlite_world, change, fragment):
    w = sqlite_world
    someone = address_of(os.urandom(32))
    payload = participant_payload(someone, ["provider"])
    change(payload)
    sub = sign(w.ledger, w.operator_key, payload, kind="participant")
    _refused(w.ledger, [sub], InvalidRecord, "participant payload", fragment)
    assert w.ledger.store.participant(w.ledger.log.id, someone) is None
