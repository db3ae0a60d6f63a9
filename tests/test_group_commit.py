"""Group commit of concurrent single submissions (issue 8, item 1; ``api.group_commit``).

Over a real socket (uvicorn, in a thread or in a process of its own), many
``POST /v1/records`` at once:

- are appended in fewer transactions than records, each answered with its own outcome,
  and one bad record fails only its own request;
- survive SIGKILL of the server: every acknowledged record is stored, the tree
  re-verifies, and an unacknowledged one is either absent or stored whole (sending it
  again answers 201 or 200, never anything else);
- from several server processes on one database, get gap-free, unique indexes.

``Ledger.submit_each`` itself is tested below too: per-record outcomes, and the
record-by-record retry when the store refuses a group as a whole.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from ledger_fixtures import check_whole_tree, make_world
from test_api_support import ApiEnv, dataset_payload, free_port, make_api_env, serving, to_json

from api import create_app
from api.group_commit import GroupCommitter
from api.schemas import submission_from_json
from ledger.datadir import signed_submission
from ledger.errors import Conflict, InvalidRecord, InvalidSignature, LedgerError, MalformedJSON, Unavailable
from ledger.store import Appended

REPO = Path(__file__).resolve().parents[1]
KILL_ROUNDS = int(os.environ.get("TDSL_TEST_GROUP_KILL_ROUNDS", "6"))



async def _post_all(base: str, token: str, bodies: list[dict], concurrency: int) -> list[httpx.Response | Exception]:
    """POST every body to /v1/records, ``concurrency`` in flight; a failed request gives its exception."""
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip

        async def one(body: dict) -> httpx.Response | Exception:
            async with sem:
                try:
                    return await http.post("/v1/records", json=body)
                except httpx.HTTPError as e:
                    return e

        return await asyncio.gather(*(one(b) for b in bodies))


@pytest.fixture
def served(tmp_path, database_url) -> Iterator[tuple[ApiEnv, str, object]]:
    with make_api_env(tmp_path / "data", database_url) as env:
        app = create_app(env.ledger, env.settings, start_sealer=False)
        with serving(app) as base:
            yield env, base, app


def test_concurrent_singles_are_grouped_and_each_gets_its_own_answer(served):
    env, base, app = served
    size0 = env.tree_size()
    good = [env.submission(env.alice, payload=dataset_payload(f"good {i}")) for i in range(120)]
    bad_sig = env.submission(env.alice, payload=dataset_payload("bad signature"))
    bad_sig_env = bad_sig.envelope.to_json() | {"sig": "0x" + "11" * 65}
    wrong_payload = env.submission(env.alice, payload=dataset_payload("committed"))
    unknown_parent = env.submission(env.alice, parents=("ab" * 32,))
    twin_a = env.submission(env.alice, payload=dataset_payload("twin a"), record_id="twin")
    twin_b = env.submission(env.alice, payload=dataset_payload("twin b"), record_id="twin")
    repeated = good[7]
    bodies: list[tuple[str, dict]] = [("good", to_json(s)) for s in good]
    bodies += [
        ("bad_sig", to_json(bad_sig) | {"envelope": bad_sig_env}),
        ("wrong_payload", to_json(wrong_payload) | {"payload": dataset_payload("another")}),
        ("unknown_parent", to_json(unknown_parent)),
        ("twin", to_json(twin_a)),
        ("twin", to_json(twin_b)),
        ("repeat", to_json(repeated)),
    ]
    random.Random(8).shuffle(bodies)
    answers = asyncio.run(_post_all(base, env.alice.token, [b for _, b in bodies], concurrency=50))
    by_label: dict[str, list[httpx.Response]] = {}
    for (label, body), r in zip(bodies, answers):
        assert isinstance(r, httpx.Response), r
        by_label.setdefault(label, []).append(r)
        if label == "good":
            assert r.status_code in (200, 201), r.text  # good[7] is also sent as "repeat"
            assert r.json()["id"] == body["envelope"]["id"]
    assert by_label["bad_sig"][0].status_code == 422
    assert by_label["bad_sig"][0].json()["type"].endswith("invalid-signature")
    assert by_label["wrong_payload"][0].status_code == 422
    assert "commitment" in by_label["wrong_payload"][0].json()["detail"]
    assert by_label["unknown_parent"][0].status_code == 422
    assert "not an entry of this log" in by_label["unknown_parent"][0].json()["detail"]
    assert sorted(r.status_code for r in by_label["twin"]) == [201, 409]
    seventh = [r for (label, b), r in zip(bodies, answers) if b["envelope"]["id"] == repeated.envelope.id]
    assert sorted(r.status_code for r in seventh) == [200, 201]
    # Exactly the good records and one twin were appended, each where its answer said.
    size = check_whole_tree(env.ledger)
    assert size == size0 + len(good) + 1
    for (label, body), r in zip(bodies, answers):
        if r.status_code == 201:
            stored = env.ledger.store.entry_by_record_id(env.ledger.log.id, body["envelope"]["id"])
            assert stored.leaf_index == r.json()["leaf_index"]
            assert stored.leaf_hash.hex() == r.json()["leaf_hash"]
    committer: GroupCommitter = app.state.committer
    assert committer.records == len(bodies)
    # Grouped: fewer commits than records. (The client shares this process with the
    # server, so the groups here are small; the benchmark shows them under real load.)
    assert committer.groups < committer.records and committer.largest > 1, (committer.groups, committer.largest)


def _answers(env: ApiEnv) -> list[tuple[int, str]]:
    """(status, problem type or "") of one fixed sequence of single submissions."""
    sub = env.submission(env.alice, record_id="fixed")
    bad_sig = to_json(env.submission(env.alice))
    bad_sig["envelope"] = bad_sig["envelope"] | {"sig": "0x" + "33" * 65}
    sequence = [
        to_json(sub),
        to_json(sub),  # again: 200
        to_json(sub) | {"payload": dataset_payload("another")},  # commitment mismatch
        to_json(env.submission(env.alice, record_id="fixed", payload=dataset_payload("other"))),  # id taken
        to_json(env.submission(env.alice, parents=("cd" * 32,))),
        bad_sig,
        {"envelope": "not an object"},
    ]
    out = []
    for body in sequence:
        r = env.client.post("/v1/records", json=body, headers=env.alice.auth)
        out.append((r.status_code, r.json().get("type", "") if r.status_code >= 400 else ""))
    return out


def test_the_grouped_and_ungrouped_paths_answer_alike(tmp_path):
    with make_api_env(tmp_path / "grouped") as grouped, make_api_env(tmp_path / "plain", group_commit=False) as plain:
        assert isinstance(grouped.client.app.state.committer, GroupCommitter)
        assert plain.client.app.state.committer is None
        a, b = _answers(grouped), _answers(plain)
    assert a == b
    assert [status for status, _ in a] == [201, 200, 422, 409, 422, 422, 400]


# -- Ledger.submit_each --------------------------------------------------------------


def test_submit_each_gives_every_record_its_own_outcome(tmp_path, database_url, request):
    world = make_world(tmp_path, database_url)
    request.addfinalizer(world.ledger.store.close)
    ledger = world.ledger
    key = world.provider_key
    ok = [signed_submission(ledger, key, kind="dataset", payload=dataset_payload(f"r{i}")) for i in range(5)]
    bad = signed_submission(ledger, key, kind="dataset", payload=dataset_payload("x"))
    bad = replace(bad, envelope=replace(bad.envelope, sig="0x" + "22" * 65))
    orphan = signed_submission(ledger, key, kind="dataset", payload=dataset_payload("y"), parents=("ef" * 32,))
    child = signed_submission(ledger, key, kind="dataset", payload=dataset_payload("z"),
                              parents=(ok[1].envelope.leaf_hash().hex(),))  # fmt: skip
    size0 = ledger.tree_size()
    out = ledger.submit_each([ok[0], bad, ok[1], orphan, child, ok[2], ok[2], ok[3], ok[4]])
    assert isinstance(out[1], InvalidSignature) and str(out[1]).startswith(f"record 0 ({bad.envelope.id})")
    assert isinstance(out[3], InvalidRecord) and "not an entry of this log" in str(out[3])
    appended = [o for o in out if isinstance(o, Appended)]
    assert [a.record_id for a in appended] == [s.envelope.id for s in (ok[0], ok[1], child, ok[2], ok[2], ok[3], ok[4])]
    assert [a.duplicate for a in appended] == [False, False, False, False, True, False, False]
    assert [a.leaf_index for a in appended if not a.duplicate] == list(range(size0, size0 + 6))
    assert ledger.tree_size() == size0 + 6
    # the child saw its parent, admitted earlier in the same group
    edges = ledger.store.edges_from(ledger.log.id, [appended[2].leaf_index])
    assert [(e.target, e.position) for e in edges] == [(appended[1].leaf_index, 0)]


def test_a_group_the_store_refuses_is_retried_record_by_record(tmp_path, database_url, request):
    """Two records with one id in a group: the store refuses the whole transaction
    (``Conflict``); each record is then submitted alone, so only the second fails."""
    world = make_world(tmp_path, database_url)
    request.addfinalizer(world.ledger.store.close)
    ledger, key = world.ledger, world.provider_key
    first = signed_submission(ledger, key, kind="dataset", payload=dataset_payload("one"), record_id="same")
    second = signed_submission(ledger, key, kind="dataset", payload=dataset_payload("two"), record_id="same")
    others = [signed_submission(ledger, key, kind="dataset", payload=dataset_payload(f"o{i}")) for i in range(3)]
    with pytest.raises(Conflict):
        ledger.submit([first, second])  # as a batch: all or nothing
    size0 = ledger.tree_size()
    out = ledger.submit_each([others[0], first, others[1], second, others[2]])
    assert isinstance(out[3], Conflict) and "already stored" in str(out[3])
    assert [o.record_id for o in out if isinstance(o, Appended)] == [others[0].envelope.id, "same",
                                                                      others[1].envelope.id, others[2].envelope.id]  # fmt: skip
    assert ledger.tree_size() == size0 + 4
    assert ledger.store.entry_by_record_id(ledger.log.id, "same").leaf_hash == first.envelope.leaf_hash()
    check_whole_tree(ledger)


def test_close_finishes_what_waits_and_refuses_the_rest(tmp_path):
    world = make_world(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger, key = world.ledger, world.provider_key
    subs = [signed_submission(ledger, key, kind="dataset", payload=dataset_payload(f"c{i}")) for i in range(20)]
    committer = GroupCommitter(ledger)

    async def scenario() -> tuple[list[Appended], LedgerError]:
        waiting = [asyncio.ensure_future(committer.submit(s)) for s in subs]
        await asyncio.sleep(0)  # every submission is queued before close
        await committer.close()
        done = await asyncio.gather(*waiting)
        try:
            await committer.submit(subs[0])
        except Unavailable as e:
            return done, e
        raise AssertionError("a submission after close was accepted")

    done, refused = asyncio.run(scenario())
    assert [a.record_id for a in done] == [s.envelope.id for s in subs]
    assert "shutting down" in str(refused)
    assert committer.groups == 1 and committer.records == 20
    committer.open()  # started again (an app's second lifespan)
    again = signed_submission(ledger, key, kind="dataset", payload=dataset_payload("after reopening"))
    assert asyncio.run(committer.submit(again)).record_id == again.envelope.id


def test_an_app_started_twice_still_takes_single_submissions(tmp_path):
    """Each lifespan closes the committer at shutdown and opens it at start-up."""
    with make_api_env(tmp_path / "data") as env:
        app = env.client.app
        from fastapi.testclient import TestClient

        for i in range(2):
            with TestClient(app) as client:
                r = client.post("/v1/records", json=to_json(env.submission(env.alice)), headers=env.alice.auth)
                assert r.status_code == 201, (i, r.text)


# -- real processes: SIGKILL, several servers ----------------------------------------------


class ServerProcess:
    def __init__(self, world, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.server", str(world.settings.data_dir),
             world.settings.resolved_database_url(), str(port)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait_up(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"the server exited: {self.proc.stderr.read()[-2000:]}"
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def _bodies(world, prefix: str, n: int) -> list[dict]:
    ledger, key = world.ledger, world.provider_key
    return [
        to_json(signed_submission(ledger, key, kind="dataset", payload=dataset_payload(f"{prefix}-{i}"), record_id=f"{prefix}-{i}"))
        for i in range(n)
    ]


@pytest.mark.slow
def test_sigkill_of_the_server_never_loses_an_acknowledged_single(tmp_path, database_url, request):
    world = make_world(tmp_path, database_url)
    request.addfinalizer(world.ledger.store.close)
    token = world.ledger.issue_token(world.provider, "kill test")
    store, log = world.ledger.store, world.ledger.log.id
    rng = random.Random(20261202)
    size0 = world.ledger.tree_size()
    acked_all: set[str] = set()
    sent_all: set[str] = set()
    for round_no in range(KILL_ROUNDS):
        bodies = _bodies(world, f"k{round_no}", 3000)
        sent_all |= {b["envelope"]["id"] for b in bodies}
        server = ServerProcess(world, free_port())
        server.wait_up()
        acked: list[str] = []

        async def send_until_killed() -> None:
            limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
            async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=30,
                                         headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip
                queue = list(reversed(bodies))

                async def sender() -> None:
                    while queue:
                        body = queue.pop()
                        try:
                            r = await http.post("/v1/records", json=body)
                        except httpx.HTTPError:
                            return  # the server is gone
                        assert r.status_code == 201, r.text
                        acked.append(body["envelope"]["id"])

                async def killer() -> None:
                    while not acked:
                        await asyncio.sleep(0.005)
                    await asyncio.sleep(rng.uniform(0.05, 0.6))
                    server.kill()

                await asyncio.gather(killer(), *(sender() for _ in range(50)))

        try:
            asyncio.run(send_until_killed())
        finally:
            server.kill()
        assert acked, f"round {round_no}: nothing was acknowledged before the kill"
        acked_all |= set(acked)
        size = check_whole_tree(world.ledger)
        stored = {store.entry_at(log, i).record_id for i in range(size0, size)}
        assert set(acked) <= stored, f"round {round_no}: acknowledged records lost: {sorted(set(acked) - stored)[:5]}"
        assert stored <= sent_all, "a record nobody sent is stored"
        # Unacknowledged ones were either not stored or stored whole: sending them again
        # (straight to the library) answers each as new or as a duplicate of itself.
        unacked = [b for b in bodies if b["envelope"]["id"] not in set(acked)][:200]
        again = world.ledger.submit([submission_from_json(b) for b in unacked])
        assert [a.duplicate for a in again] == [b["envelope"]["id"] in stored for b in unacked]
    assert acked_all <= {store.entry_at(log, i).record_id for i in range(store.tree_size(log))}
    world.ledger.seal()
    assert world.ledger.audit().tree_size == store.tree_size(log)


@pytest.mark.slow
def test_several_server_processes_get_gap_free_indexes(tmp_path, database_url, request):
    world = make_world(tmp_path, database_url)
    request.addfinalizer(world.ledger.store.close)
    token = world.ledger.issue_token(world.provider, "writers")
    before = world.ledger.tree_size()
    servers = [ServerProcess(world, free_port()) for _ in range(3)]
    per_server = 400
    try:
        for s in servers:
            s.wait_up()

        async def all_of_them() -> list[list[httpx.Response | Exception]]:
            return await asyncio.gather(*(
                _post_all(s.base, token, _bodies(world, f"s{k}", per_server), concurrency=25)
                for k, s in enumerate(servers)
            ))  # fmt: skip

        answers = asyncio.run(all_of_them())
    finally:
        for s in servers:
            s.kill()
    for per in answers:
        assert [getattr(r, "status_code", r) for r in per] == [201] * per_server
    size = check_whole_tree(world.ledger)
    assert size == before + 3 * per_server
    store, log = world.ledger.store, world.ledger.log.id
    ids = [store.entry_at(log, i).record_id for i in range(before, size)]
    assert sorted(ids) == sorted(f"s{k}-{i}" for k in range(3) for i in range(per_server))
    indexes = sorted(r.json()["leaf_index"] for per in answers for r in per)
    assert indexes == list(range(before, size))


def test_a_payload_that_cannot_be_canonicalised_fails_only_its_record(tmp_path):
    """A library caller's payload that JCS refuses (a float NaN, a set, a non-string key:
    the JSON path never produces them) is that record's ``MalformedJSON``; its neighbours
    in the group are appended. (``submit_each`` keeps any other exception to its record
    too; nothing known raises one, so that branch is defensive and untested.)"""
    world = make_world(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger, key = world.ledger, world.provider_key
    good = [signed_submission(ledger, key, kind="dataset", payload=dataset_payload(f"n{i}")) for i in range(2)]
    odd = [replace(good[0], payload=p) for p in ({"title": float("nan")}, {"title": {1, 2}}, {1: 2})]
    out = ledger.submit_each([good[0], *odd, good[1]])
    assert isinstance(out[0], Appended) and isinstance(out[-1], Appended)
    for refused in out[1:-1]:
        assert isinstance(refused, MalformedJSON) and "cannot canonicalize" in str(refused)
    assert ledger.tree_size() == out[-1].leaf_index + 1
