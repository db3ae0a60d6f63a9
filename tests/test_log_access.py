"""Read rules and API tokens (``ledger.access``, ``Ledger.record/receipt/issue_token``).

- A private record is seen by its author, the operator and regulators; to anyone else it
  answers exactly as a record that does not exist (same class, same message).
- A payload (and its salt) is shown only to the author, the operator and regulators,
  whatever the record's visibility; receipts carry it on the same terms.
- Tokens authenticate until revoked, are stored only as their SHA-256, and are issued only
  for registered addresses of this log.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_log_fixtures are parameters here)
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import pytest
from ledger_fixtures import World
from sqlalchemy import select
from test_log_fixtures import (  # noqa: F401
    backend_url,
    dataset,
    new_participant,
    shared_postgres_url,
    sqlite_world,
    world,
)

from ledger.access import ANONYMOUS, Viewer, missing
from ledger.datadir import register_participant, signed_submission
from ledger.envelope import address_of
from ledger.errors import Forbidden, NotFound, Unauthorized
from ledger.log import Ledger
from ledger.store.models import TokenRow
from ledger.verify import ChainRef, verify_receipt


@dataclass
class Cast:
    world: World
    private_id: str  # a private dataset of provider A (the world's provider)
    public_id: str  # a public dataset of provider A
    a: Viewer
    b: Viewer  # another provider
    operator: Viewer
    regulator: Viewer


def _cast(w: World) -> Cast:
    _, b = new_participant(w, ["provider"], "Provider B")
    _, regulator = new_participant(w, ["regulator"], "Market surveillance authority")
    private = signed_submission(
        w.ledger, w.provider_key, kind="dataset", payload=dataset("private one"), visibility="private"
    )
    public = signed_submission(w.ledger, w.provider_key, kind="dataset", payload=dataset("public one"))
    w.ledger.submit([private, public])
    ledger = w.ledger
    return Cast(
        w, private.envelope.id, public.envelope.id, ledger.viewer_for(w.provider), ledger.viewer_for(b),
        ledger.viewer_for(ledger.log.operator), ledger.viewer_for(regulator),
    )  # fmt: skip


@pytest.fixture
def cast(world) -> Cast:
    return _cast(world)


@pytest.fixture
def sqlite_cast(sqlite_world) -> Cast:
    return _cast(sqlite_world)


def _verify(ledger: Ledger, receipt) -> None:
    verify_receipt(
        receipt, origin=ledger.origin, chain=ChainRef(ledger.log.chain_id, ledger.log.contract),
        note_key=ledger.log.note_vkey,
    )  # fmt: skip


def _not_found_message(call) -> tuple[type, str]:
    with pytest.raises(NotFound) as info:
        call()
    return type(info.value), str(info.value)


# -- records ----------------------------------------------------------------------------


def test_private_record_is_read_by_author_operator_and_regulator(cast):
    ledger = cast.world.ledger
    for viewer in (cast.a, cast.operator, cast.regulator):
        view = ledger.record(cast.private_id, viewer)
        assert view.entry.record_id == cast.private_id and view.entry.visibility == "private"
        receipt = ledger.receipt(cast.private_id, viewer)
        _verify(ledger, receipt)


@pytest.mark.parametrize("who", ["b", "anonymous", "deactivated regulator"])
def test_private_record_answers_others_exactly_as_a_missing_one(cast, who):
    ledger = cast.world.ledger
    if who == "b":
        viewer = cast.b
    elif who == "anonymous":
        viewer = ANONYMOUS
    else:  # a regulator whose roles were withdrawn is nobody special any more
        w = cast.world
        register_participant(ledger, w.operator_key, address=cast.regulator.address, name="former", legal_id=("LEI", "X"), roles=[])
        viewer = ledger.viewer_for(cast.regulator.address)
        assert viewer.roles == frozenset()
    absent = "00000000-0000-4000-8000-000000000000"
    for op in (ledger.record, ledger.receipt, ledger.erase):
        hidden = _not_found_message(lambda op=op: op(cast.private_id, viewer))
        gone = _not_found_message(lambda op=op: op(absent, viewer))
        assert hidden[0] is gone[0] is NotFound
        # the same sentence, differing only in the id that was asked for
        assert hidden[1].replace(cast.private_id, "<id>") == gone[1].replace(absent, "<id>")
        assert hidden[1] == str(missing(cast.private_id))


def test_public_record_is_read_by_anyone_without_its_payload(cast):
    ledger = cast.world.ledger
    for viewer in (cast.b, ANONYMOUS):
        view = ledger.record(cast.public_id, viewer)
        assert not view.payload_visible
        out = view.to_json()
        assert "payload" not in out and "salt" not in out
        receipt = ledger.receipt(cast.public_id, viewer)
        assert receipt.payload is None and receipt.salt is None
        doc = receipt.to_json()
        assert "payload" not in doc and "salt" not in doc
        _verify(ledger, doc)


@pytest.mark.parametrize("record", ["public", "private"])
def test_payload_is_shown_to_author_operator_and_regulator_only(sqlite_cast, record):
    cast = sqlite_cast
    ledger = cast.world.ledger
    rid = cast.public_id if record == "public" else cast.private_id
    stored = ledger.store.entry_by_record_id(ledger.log.id, rid)
    for viewer in (cast.a, cast.operator, cast.regulator):
        out = ledger.record(rid, viewer).to_json()
        assert out["payload"] == dataset(f"{record} one")
        assert out["salt"] == stored.salt.hex()
        receipt = ledger.receipt(rid, viewer)
        assert receipt.payload == dataset(f"{record} one") and receipt.salt == stored.salt
        _verify(ledger, receipt.to_json())  # the payload opens the signed commitment
    if record == "public":
        for viewer in (cast.b, ANONYMOUS, Viewer(cast.b.address, frozenset({"consumer"}))):
            assert "payload" not in ledger.record(rid, viewer).to_json()
            assert ledger.receipt(rid, viewer).salt is None


def test_a_viewer_claiming_the_author_address_without_roles_sees_own_payload(sqlite_cast):
    """Payload access follows the address (the author), not the roles it holds now."""
    cast = sqlite_cast
    ledger = cast.world.ledger
    viewer = Viewer(cast.a.address)
    assert ledger.record(cast.private_id, viewer).to_json()["payload"] == dataset("private one")


def test_erase_of_a_public_record_by_another_participant_is_forbidden(sqlite_cast):
    cast = sqlite_cast
    ledger = cast.world.ledger
    for viewer in (cast.b, cast.regulator, ANONYMOUS):
        with pytest.raises(Forbidden, match="only the author"):
            ledger.erase(cast.public_id, viewer)
    assert ledger.store.entry_by_record_id(ledger.log.id, cast.public_id).payload is not None


# -- tokens -----------------------------------------------------------------------------


def _token_rows(ledger: Ledger) -> list[tuple]:
    table = TokenRow.__table__
    with ledger.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table))]


def test_token_issue_authenticate_revoke(world):
    ledger = world.ledger
    holder = ledger.viewer_for(world.provider)
    token = ledger.issue_token(world.provider, "ci")
    viewer = ledger.authenticate(token)
    assert viewer.address == world.provider and viewer.roles == {"provider", "producer"}
    other = ledger.issue_token(world.provider, "second")
    assert other != token
    ledger.revoke_token(token, holder)
    with pytest.raises(Unauthorized):
        ledger.authenticate(token)
    assert ledger.authenticate(other).address == world.provider  # only the revoked one stops
    with pytest.raises(NotFound):
        ledger.revoke_token(token, holder)  # already revoked
    op = ledger.authenticate(world.operator_token)
    assert op.address == ledger.log.operator and "operator" in op.roles


def test_only_the_holder_or_the_operator_may_revoke_a_token(world):
    ledger = world.ledger
    _, b = new_participant(world, ["provider"], "Provider B")
    _, regulator = new_participant(world, ["regulator"], "Regulator")
    token = ledger.issue_token(world.provider)
    for viewer in (ledger.viewer_for(b), ledger.viewer_for(regulator), ANONYMOUS):
        with pytest.raises(Forbidden):
            ledger.revoke_token(token, viewer)
    assert ledger.authenticate(token).address == world.provider  # still valid
    ledger.revoke_token(token, ledger.viewer_for(ledger.log.operator))
    with pytest.raises(Unauthorized):
        ledger.authenticate(token)
    with pytest.raises(NotFound):
        ledger.revoke_token("tdsl_never-issued", ledger.viewer_for(ledger.log.operator))


@pytest.mark.parametrize(
    "presented",
    ["", "tdsl_", "not-a-token", "tdsl_" + "A" * 43],
    ids=["empty", "prefix-only", "garbage", "well-formed-unknown"],
)
def test_unknown_tokens_are_unauthorized(sqlite_world, presented):
    with pytest.raises(Unauthorized):
        sqlite_world.ledger.authenticate(presented)


def test_token_differing_by_one_character_is_unauthorized(sqlite_world):
    token = sqlite_world.ledger.issue_token(sqlite_world.provider)
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Unauthorized):
        sqlite_world.ledger.authenticate(changed)


def test_tokens_are_stored_hashed(world):
    ledger = world.ledger
    token = ledger.issue_token(world.provider, "label-x")
    rows = _token_rows(ledger)
    mine = [r for r in rows if r[0] == hashlib.sha256(token.encode()).digest()]
    assert len(mine) == 1
    secret = token.removeprefix("tdsl_")
    for row in rows:
        for value in row:
            text = bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value)
            assert secret not in text and token not in text
    for t in (token, world.operator_token):
        assert not any(t.encode() in bytes(r[0]) for r in rows)


def test_tokens_for_unregistered_addresses_are_refused(world):
    stranger = address_of(os.urandom(32))
    before = _token_rows(world.ledger)
    with pytest.raises(NotFound, match=stranger):
        world.ledger.issue_token(stranger)
    assert _token_rows(world.ledger) == before


def test_a_token_of_one_log_does_not_open_another(world, tmp_path):
    """Two logs in one database: a token is valid only on the log that issued it."""
    ledger = world.ledger
    info = ledger.store.create_log(
        origin=ledger.origin + "/neighbour", chain_id=ledger.log.chain_id, contract=ledger.log.contract,
        operator=ledger.log.operator, note_vkey=ledger.log.note_vkey,
    )  # fmt: skip
    neighbour = Ledger(ledger.store, info)
    token = ledger.issue_token(world.provider)
    with pytest.raises(Unauthorized):
        neighbour.authenticate(token)
    with pytest.raises(Unauthorized):
        neighbour.authenticate(world.operator_token)
    with pytest.raises(NotFound):  # nor can the neighbour's operator revoke it
        neighbour.revoke_token(token, neighbour.viewer_for(neighbour.log.operator))
    assert ledger.authenticate(token).address == world.provider


def test_a_token_follows_its_participants_current_roles(world):
    """Roles come from the newest registration at each authentication, not from issue time
    (read in the same statement as the token, on both databases)."""
    w = world
    token = w.ledger.issue_token(w.provider)
    register_participant(w.ledger, w.operator_key, address=w.provider, name="n", legal_id=("LEI", "X"), roles=["consumer"])
    assert w.ledger.authenticate(token).roles == {"consumer"}
