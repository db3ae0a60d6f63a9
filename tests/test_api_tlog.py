"""The C2SP tlog-tiles endpoints, read as a C2SP client reads them.

The main test plays a tile-reading client: it fetches the checkpoint and every tile and
entry bundle the checkpoint's tree size implies, over HTTP only, recomputes every leaf
hash from the entry bundles, checks them against the level-0 tiles and each level's
tiles against the level above, and rebuilds the root from the tiles
(``ledger.tiles.range_hash``) to compare it with the signed checkpoint's root.
"""

from __future__ import annotations

import pytest
from test_api_support import ORIGIN, ApiEnv, dataset_payload, make_api_env, to_json

from ledger import merkle
from ledger.checkpoint import NoteVerifier, verify_checkpoint
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, encode_index, range_hash

FULL_CACHE = "public, max-age=31536000, immutable"


@pytest.fixture
def store_env(tmp_path, database_url):
    with make_api_env(tmp_path / "data", database_url, max_body_bytes=1 << 20) as e:
        yield e


@pytest.fixture
def env(tmp_path):
    with make_api_env(tmp_path / "data") as e:
        yield e


@pytest.fixture(scope="module")
def sealed_at_4(tmp_path_factory):
    """A log of the four registrations, sealed; the tests using it only read."""
    with make_api_env(tmp_path_factory.mktemp("tlog") / "data") as e:
        assert e.ledger.seal().tree_size == 4
        yield e


def fetch(env: ApiEnv, path: str) -> bytes:
    r = env.client.get("/v1/tlog/" + path)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["cache-control"] == FULL_CACHE  # partial tiles never change either
    return r.content


def parse_bundle(data: bytes) -> list[bytes]:
    """C2SP entry bundle: big-endian uint16 length, then the entry; repeated to the end."""
    entries, pos = [], 0
    while pos < len(data):
        assert pos + 2 <= len(data), "truncated length prefix"
        n = int.from_bytes(data[pos : pos + 2], "big")
        assert pos + 2 + n <= len(data), "truncated entry"
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return entries


def hashes_of(tile: bytes) -> list[bytes]:
    assert len(tile) % 32 == 0
    return [tile[i : i + 32] for i in range(0, len(tile), 32)]


def widths(count: int) -> list[int]:
    """Widths of the tiles of a level that holds ``count`` hashes."""
    return [TILE_WIDTH] * (count // TILE_WIDTH) + ([count % TILE_WIDTH] if count % TILE_WIDTH else [])


def tile_path(level: int | str, index: int, width: int) -> str:
    return f"tile/{level}/{encode_index(index)}" + ("" if width == TILE_WIDTH else f".p/{width}")


def read_log(env: ApiEnv) -> tuple[int, bytes, list[bytes]]:
    """What a C2SP client can establish from HTTP alone: (tree size, root, entries)."""
    r = env.client.get("/v1/tlog/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    cp = verify_checkpoint(r.text, NoteVerifier.from_text(env.identity.note_key), origin=ORIGIN)
    size = cp.tree_size
    tiles: dict[tuple[int, int], bytes] = {}
    level = 0
    while size >> (TILE_HEIGHT * level):
        for index, width in enumerate(widths(size >> (TILE_HEIGHT * level))):
            tile = fetch(env, tile_path(level, index, width))
            assert len(tile) == width * 32
            tiles[(level, index)] = tile
        level += 1
    # Each hash of a level-L+1 tile is the root of a full level-L tile.
    for (lv, index), tile in tiles.items():
        for j, h in enumerate(hashes_of(tile)):
            if lv > 0:
                assert h == merkle.root_hash(hashes_of(tiles[(lv - 1, index * TILE_WIDTH + j)])), (lv, index, j)
    entries: list[bytes] = []
    for index, width in enumerate(widths(size)):
        bundle = parse_bundle(fetch(env, tile_path("entries", index, width)))
        assert len(bundle) == width
        assert [merkle.leaf_hash(e) for e in bundle] == hashes_of(tiles[(0, index)]), f"entry bundle {index}"
        entries += bundle
    root = range_hash(0, size, tiles)
    assert root == cp.root_hash, "the root rebuilt from the tiles is not the checkpoint's"
    assert merkle.root_hash([merkle.leaf_hash(e) for e in entries]) == cp.root_hash
    return size, root, entries


def submit_batch(env: ApiEnv, count: int, tag: str) -> None:
    subs = [to_json(env.submission(env.alice, payload=dataset_payload(f"{tag} {i}"))) for i in range(count)]
    r = env.client.post("/v1/records/batch", json={"records": subs}, headers=env.alice.auth)
    assert r.status_code == 201, r.text


def test_a_c2sp_reader_rebuilds_the_tree(store_env: ApiEnv):
    env = store_env
    submit_batch(env, 100, "first")
    first = env.ledger.seal()  # 104: one partial level-0 tile
    size, root, entries = read_log(env)
    assert (size, root) == (first.tree_size, first.root_hash)
    submit_batch(env, 200, "second")
    submit_batch(env, 250, "third")
    second = env.ledger.seal()  # 554: two full level-0 tiles, a partial one, a partial level-1 tile
    assert second.tree_size == 554
    size, root, entries = read_log(env)
    assert (size, root) == (second.tree_size, second.root_hash)
    # Every entry is the exact stored envelope of the record at that index.
    for index in (0, 103, 255, 256, 553):
        view = env.client.get("/v1/records", params={"start": index, "limit": 1}).json()["records"][0]
        assert view["leaf_index"] == index
        assert merkle.leaf_hash(entries[index]).hex() == view["leaf_hash"]
    # The partial tiles of the earlier checkpoint are still served, as prefixes.
    old = fetch(env, f"tile/0/000.p/{first.tree_size}")
    assert old == fetch(env, "tile/0/000")[: first.tree_size * 32]
    assert parse_bundle(fetch(env, f"tile/entries/000.p/{first.tree_size}")) == entries[: first.tree_size]
    assert range_hash(0, first.tree_size, {(0, 0): old}) == first.root_hash
    proof = env.client.get("/v1/proofs/consistency", params={"from": first.tree_size, "to": second.tree_size}).json()
    merkle.verify_consistency(
        first.tree_size, second.tree_size, first.root_hash, second.root_hash, [bytes.fromhex(h) for h in proof["proof"]]
    )


def test_tiles_follow_the_checkpoint_not_the_live_tree(env: ApiEnv):
    env.ledger.seal()  # 4
    for i in range(3):
        assert env.submit(env.alice, env.submission(env.alice, payload=dataset_payload(f"d{i}"))).status_code == 201
    assert env.tree_size() == 7
    assert len(fetch(env, "tile/0/000.p/4")) == 4 * 32
    assert len(parse_bundle(fetch(env, "tile/entries/000.p/4"))) == 4
    for path in ("tile/0/000.p/5", "tile/0/000.p/7", "tile/entries/000.p/7"):
        assert env.client.get("/v1/tlog/" + path).status_code == 404
    env.ledger.seal()
    assert len(fetch(env, "tile/0/000.p/7")) == 7 * 32
    assert len(fetch(env, "tile/0/000.p/2")) == 2 * 32  # an older width is a prefix


def test_nothing_is_served_before_the_first_checkpoint(env: ApiEnv):
    for path in ("checkpoint", "tile/0/000.p/1", "tile/entries/000.p/1"):
        r = env.client.get("/v1/tlog/" + path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path, status",
    [
        # not C2SP paths
        ("tile/0/00", 400),
        ("tile/0/0000", 400),
        ("tile/0/1000", 400),
        ("tile/00/000", 400),
        ("tile/01/000", 400),
        ("tile/64/000", 400),
        ("tile/-1/000", 400),
        ("tile/0/000.p/0", 400),
        ("tile/0/000.p/256", 400),
        ("tile/0/000.p/007", 400),
        ("tile/0/000.p/", 400),
        ("tile/0/000.p/-1", 400),
        ("tile/0/x000/001", 400),
        ("tile/0/001/x000", 400),
        ("tile/0/X001/000", 400),
        ("tile/0/000/", 400),
        ("tile/0/abc", 400),
        ("tile/entries/x001", 400),
        ("tile/entries/000.p/00", 400),
        ("tile/data/000", 400),
        ("tile/", 400),
        # fuzzing (issue 8): an overlong index, a trailing newline, a Unicode digit
        ("tile/0/" + "x123/" * 1500 + "000", 400),
        ("tile/0/x001/x002/x003/x004/x005/x006/x007/000", 400),
        ("tile/0/000.p/4%0A", 400),
        ("tile/0/000%0A", 400),
        ("tile/0/%D9%A0%D9%A0%D9%A0", 400),
        ("tile/%D9%A0/000", 400),
        # well-formed, but not a tile of the tree at the checkpoint (size 4)
        ("tile/0/000", 404),
        ("tile/0/001", 404),
        ("tile/0/000.p/5", 404),
        ("tile/0/000.p/255", 404),
        ("tile/1/000", 404),
        ("tile/1/000.p/1", 404),
        ("tile/63/000.p/1", 404),
        ("tile/0/x001/000", 404),
        ("tile/entries/000", 404),
        ("tile/entries/001.p/1", 404),
        ("tile/entries/000.p/5", 404),
        # served
        ("tile/0/000.p/4", 200),
        ("tile/0/000.p/1", 200),
        ("tile/entries/000.p/4", 200),
        ("tile/entries/000.p/2", 200),
    ],
)
def test_tile_paths(sealed_at_4: ApiEnv, path: str, status: int):
    r = sealed_at_4.client.get("/v1/tlog/" + path)
    assert r.status_code == status, r.text
    if status != 200:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == status
        assert r.headers["cache-control"] == "no-store"  # no cache pins a miss
    else:
        width = int(path.rsplit("/", 1)[1])
        count = len(parse_bundle(r.content)) if "entries" in path else len(r.content) // 32
        assert count == width


def test_tlog_is_read_only(sealed_at_4: ApiEnv):
    env = sealed_at_4
    for method in ("POST", "PUT", "DELETE"):
        assert env.client.request(method, "/v1/tlog/tile/0/000.p/1").status_code == 405
        assert env.client.request(method, "/v1/tlog/checkpoint").status_code == 405



def test_hash_tiles_are_not_gzipped_entry_bundles_are(tmp_path):
    """C2SP: entry bundles SHOULD be compressed; hash tiles do not compress (issue 8)."""
    with make_api_env(tmp_path / "data", max_body_bytes=1 << 20) as env:
        subs = [env.submission(env.alice, payload=None) for _ in range(300)]
        for i in range(0, 300, 100):
            r = env.client.post("/v1/records/batch", json={"records": [to_json(s) for s in subs[i:i + 100]]},
                                headers=env.alice.auth)  # fmt: skip
            assert r.status_code == 201, r.text
        env.ledger.seal()
        gz = {"Accept-Encoding": "gzip"}
        tile = env.client.get("/v1/tlog/tile/0/000", headers=gz)
        assert tile.status_code == 200 and "content-encoding" not in tile.headers and len(tile.content) == 8192
        bundle = env.client.get("/v1/tlog/tile/entries/000", headers=gz)
        assert bundle.status_code == 200 and bundle.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("path", ["/v1/log%0A", "/v1/log%0D", "/v1/log%00", "/v1/tlog/checkpoint%0A", "/v1/health%0A"])
def test_a_control_character_in_the_path_is_a_400_not_an_alias(sealed_at_4: ApiEnv, path: str):
    """Starlette's ``$`` matched before a final newline: ``/v1/log%0A`` answered as ``/v1/log`` (issue 8)."""
    r = sealed_at_4.client.get(path)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text


@pytest.mark.parametrize("path", ["/v1/log", "/v1/checkpoint", "/v1/tlog/checkpoint", "/v1/participants", "/v1/health",
                                  "/v1/tlog/tile/0/000.p/4", "/v1/records"])  # fmt: skip
def test_a_revoked_or_bogus_token_is_refused_everywhere(sealed_at_4: ApiEnv, path: str):
    """A presented token that is invalid is a 401 on public reads too (issue 8)."""
    env = sealed_at_4
    assert env.client.get(path).status_code == 200
    for header in ("Bearer tdsl_not_a_token", "Basic abc"):
        r = env.client.get(path, headers={"Authorization": header})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", (header, r.text)


def test_a_revoked_token_is_refused_on_public_reads(env: ApiEnv):
    token = env.ledger.issue_token(env.alice.address, "to revoke")
    auth = {"Authorization": f"Bearer {token}"}
    assert env.client.get("/v1/log", headers=auth).status_code == 200
    env.ledger.revoke_token(token, env.ledger.viewer_for(env.alice.address))
    for path in ("/v1/log", "/v1/participants", "/v1/records"):
        r = env.client.get(path, headers=auth)
        assert r.status_code == 401 and "revoked" in r.json()["detail"], (path, r.text)


@pytest.mark.parametrize(("path", "allow"), [
    ("/v1/records", "GET, POST"), ("/v1/records/x/disclosures", "GET, POST"), ("/v1/records/x/disclosures/0xab", "DELETE"),
    ("/v1/tokens", "DELETE, POST"), ("/v1/log", "GET"), ("/v1/tlog/tile/0/000", "GET"),
])  # fmt: skip
def test_a_405_names_every_method_the_path_takes(sealed_at_4: ApiEnv, path: str, allow: str):
    """Starlette named only the first route's methods (/v1/records said 'Allow: POST'; issue 8)."""
    for method in ("OPTIONS", "PATCH"):
        r = sealed_at_4.client.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == allow, (method, r.headers.get("allow"))
        assert r.headers["content-type"] == "application/problem+json"
