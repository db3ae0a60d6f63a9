"""``ledger/web/static/tdsl-verify.js``: the passport page's in-browser verification, run under node.

The bundle the page embeds (``#tdsl-proof``) is built here from a real ledger's receipt:
the entry's envelope bytes as stored, the receipt's proof and signed checkpoint, and the
log identity (origin, note verifier key) from the ledger's own configuration. The script
runs under node (WebCrypto: SHA-256 and Ed25519) through a small driver that reads a
request as JSON on stdin and prints the result as JSON. Each tampered part must fail its
own check; the Merkle and checkpoint logic is also compared with ``ledger.merkle`` and
``ledger.checkpoint`` on many inputs (differential tests).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ledger_fixtures import make_world
from test_log_fixtures import dataset

from ledger import merkle
from ledger.canonical import canonicalize
from ledger.checkpoint import Checkpoint, NoteSigner, NoteVerifier, sign_checkpoint, verify_checkpoint
from ledger.datadir import signed_submission
from ledger.errors import VerificationError
from ledger.verify import ChainRef, verify_receipt

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SCRIPT = Path(__file__).resolve().parents[1] / "ledger" / "web" / "static" / "tdsl-verify.js"
CHECK_IDS = ["entry", "checkpoint", "inclusion"]
EM_DASH = "\u2014"

# The driver: {"script", "mode", ...} on stdin, the JSON answer on stdout. Console output of
# the script is collected (stdout must stay JSON). The fake DOM knows only what the panel
# contract allows: attributes, textContent, and simple `tag[attr]` / `[attr="v"]` queries;
# any markup API the script touches is recorded, so the test can refuse it.
DRIVER = r"""
const fs = require("fs"), vm = require("vm");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const logs = [], markup = [];
console.info = (...a) => logs.push(["info", a.join(" ")]);
console.warn = (...a) => logs.push(["warn", a.join(" ")]);
console.log = console.info;

class El {
  constructor(spec) {
    this.tag = spec.tag; this.attrs = Object.assign({}, spec.attrs || {});
    this.text = spec.text || ""; this.children = (spec.children || []).map((c) => new El(c));
  }
  getAttribute(n) { return Object.prototype.hasOwnProperty.call(this.attrs, n) ? this.attrs[n] : null; }
  setAttribute(n, v) { this.attrs[n] = String(v); }
  hasAttribute(n) { return this.getAttribute(n) !== null; }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(""); }
  set textContent(v) { this.text = String(v); this.children = []; }
  get innerHTML() { markup.push("get innerHTML"); return ""; }
  set innerHTML(v) { markup.push("innerHTML"); }
  set outerHTML(v) { markup.push("outerHTML"); }
  insertAdjacentHTML() { markup.push("insertAdjacentHTML"); }
  all() { return this.children.flatMap((c) => [c, ...c.all()]); }
  matches(sel) {
    const m = /^([a-z0-9]*)(?:\[([a-z-]+)(?:="([^"]*)")?\])?$/.exec(sel);
    if (!m) throw new Error("the fake DOM does not support the selector " + sel);
    return (!m[1] || m[1] === this.tag) && (!m[2] || (this.hasAttribute(m[2]) && (m[3] === undefined || this.attrs[m[2]] === m[3])));
  }
  querySelectorAll(sel) { return this.all().filter((e) => e.matches(sel)); }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
  toJSON() { return { tag: this.tag, attrs: this.attrs, text: this.text, children: this.children }; }
}

function environment(env) {
  const real = globalThis.crypto;
  if (env === "no-subtle") Object.defineProperty(globalThis, "crypto", { value: {}, configurable: true });
  if (env === "no-ed25519") {
    const s = real.subtle, refuse = () => Promise.reject(new DOMException("Unrecognized name", "NotSupportedError"));
    const subtle = {
      digest: (...a) => s.digest(...a),
      importKey: (f, k, alg, ...r) => (alg && alg.name === "Ed25519" ? refuse() : s.importKey(f, k, alg, ...r)),
      verify: (alg, ...r) => (alg && (alg.name || alg) === "Ed25519" ? refuse() : s.verify(alg, ...r)),
    };
    Object.defineProperty(globalThis, "crypto", { value: { subtle }, configurable: true });
  }
  if (env === "ed25519-import-only" || env === "ed25519-verify-false") {  // imports the key, cannot verify
    const s = real.subtle, broken = env === "ed25519-import-only"
      ? () => Promise.reject(new DOMException("Unrecognized name", "NotSupportedError")) : () => Promise.resolve(false);
    const subtle = {
      digest: (...a) => s.digest(...a),
      importKey: (...a) => s.importKey(...a),
      verify: (alg, ...r) => (alg && (alg.name || alg) === "Ed25519" ? broken() : s.verify(alg, ...r)),
    };
    Object.defineProperty(globalThis, "crypto", { value: { subtle }, configurable: true });
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  environment(input.env);
  let out;
  if (input.mode === "verify") {
    const api = require(input.script);
    out = [];
    for (const b of input.bundles) out.push(await api.verify(b));
  } else if (input.mode === "render") {
    const api = require(input.script);
    const panel = new El(input.panel);
    const result = await api.render(panel, input.bundle);
    out = { result, panel };
  } else if (input.mode === "autoload") {
    const panel = new El(input.panel);
    let listener = null;
    globalThis.document = {
      readyState: input.readyState,
      getElementById: (id) => (id === "verify" ? panel : id === "tdsl-proof" && input.proof !== null ? { textContent: input.proof } : null),
      addEventListener: (ev, fn) => { if (ev === "DOMContentLoaded") listener = fn; },
    };
    require(input.script);
    await sleep(100);
    const before = panel.getAttribute("data-state");
    if (listener) listener();
    for (let t = 0; t < 200 && panel.getAttribute("data-state") === "pending"; t++) await sleep(10);
    out = { before, listened: listener !== null, panel };
  } else if (input.mode === "browser") {
    // As a browser runs a classic script: no `module`, no `require`, globals only.
    const ctx = vm.createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder, atob, btoa, console });
    new vm.Script(fs.readFileSync(input.script, "utf8"), { filename: "tdsl-verify.js" }).runInContext(ctx);
    const api = ctx.TDSLVerify;
    out = { keys: Object.keys(api).sort(), module: typeof ctx.module, result: await api.verify(input.bundle) };
  }
  process.stdout.write(JSON.stringify({ out, logs, markup }));
})().catch((e) => { process.stderr.write("driver: " + (e && e.stack || e) + "\n"); process.exit(3); });
"""


def node(mode: str, **request: Any) -> dict[str, Any]:
    proc = subprocess.run(
        [NODE, "-e", DRIVER], input=json.dumps({"script": str(SCRIPT), "mode": mode, **request}),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, f"node failed ({proc.returncode}): {proc.stderr}"
    answer = json.loads(proc.stdout)
    assert answer["markup"] == [], f"the script used markup APIs: {answer['markup']}"
    return answer


def verify_js(*bundles: Any, env: str | None = None) -> list[dict[str, Any]]:
    results = node("verify", bundles=list(bundles), env=env)["out"]
    for r in results:  # the result shape the page relies on
        assert set(r) == {"ok", "checks"} and isinstance(r["ok"], bool)
        assert [c["id"] for c in r["checks"]] == CHECK_IDS
        for c in r["checks"]:
            assert set(c) == {"id", "ok", "detail"} and isinstance(c["ok"], bool)
            assert isinstance(c["detail"], str) and c["detail"], c
        assert r["ok"] == all(c["ok"] for c in r["checks"])
    return results


def verdicts(result: dict[str, Any]) -> tuple[bool, bool, bool]:
    return tuple(c["ok"] for c in result["checks"])  # type: ignore[return-value]


def detail(result: dict[str, Any], check: str) -> str:
    return next(c["detail"] for c in result["checks"] if c["id"] == check)


# -- a real ledger and the bundle of one of its records ------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify_js")
    w = make_world(tmp / "data", f"sqlite:///{tmp / 'ledger.db'}")
    subs = [signed_submission(w.ledger, w.provider_key, kind="dataset", payload=dataset(f"cell {i}")) for i in range(6)]
    w.ledger.submit(subs)
    w.ledger.seal()
    w.record_ids = [s.envelope.id for s in subs]
    yield w
    w.ledger.store.close()


def make_bundle(ledger, record_id: str) -> dict[str, Any]:
    """What the page embeds: the stored leaf bytes, the receipt's proof and checkpoint, the pinned identity."""
    receipt = ledger.receipt(record_id)
    [(index, stored_hash, leaf)] = ledger.envelopes(receipt.leaf_index, receipt.leaf_index + 1)
    assert index == receipt.leaf_index
    assert leaf == receipt.entry.to_bytes() and stored_hash == merkle.leaf_hash(leaf)  # as ledger.verify computes it
    log = ledger.log
    verify_receipt(receipt, origin=ledger.origin, chain=ChainRef(log.chain_id, log.contract), note_key=log.note_vkey)
    return {
        "origin": ledger.origin,
        "vkey": log.note_vkey,
        "record_id": receipt.entry.id,
        "leaf_index": receipt.leaf_index,
        "tree_size": receipt.tree_size,
        "leaf": base64.b64encode(leaf).decode(),
        "leaf_hash": stored_hash.hex(),
        "inclusion_proof": [h.hex() for h in receipt.inclusion_proof],
        "checkpoint": receipt.checkpoint,
    }


@pytest.fixture(scope="module")
def bundle(world) -> dict[str, Any]:
    b = make_bundle(world.ledger, world.record_ids[2])
    assert len(b["inclusion_proof"]) >= 2 and b["leaf_index"] + 1 < b["tree_size"]
    return b


def test_the_bundle_of_a_real_receipt_passes_all_three_checks(bundle):
    [r] = verify_js(bundle)
    assert r["ok"] is True and verdicts(r) == (True, True, True)
    assert bundle["leaf_hash"] in detail(r, "entry")


def test_every_record_of_the_real_log_verifies(world):
    bundles = [make_bundle(world.ledger, rid) for rid in world.record_ids]
    assert all(r["ok"] for r in verify_js(*bundles))


# -- tampering: each part fails its own check -----------------------------------------------


def _flip_hex(h: str, at: int = 0) -> str:
    return h[:at] + ("0" if h[at] != "0" else "1") + h[at + 1 :]


def _body_and_signatures(note: str) -> tuple[str, str]:
    split = note.rindex("\n\n")
    return note[: split + 1], note[split + 2 :]


def _sig_line(name: str, key_id: bytes, signature: bytes) -> str:
    return f"{EM_DASH} {name} {base64.b64encode(key_id + signature).decode()}\n"


def _edit_leaf_byte(b: dict) -> None:
    """One byte of the leaf changed, inside the commitment's hex: still JSON, same id."""
    leaf = bytearray(base64.b64decode(b["leaf"]))
    at = leaf.index(b'"commitment":"sha256:') + len(b'"commitment":"sha256:')
    leaf[at] = ord("0") if leaf[at] != ord("0") else ord("1")
    b["leaf"] = base64.b64encode(bytes(leaf)).decode()


def _change_root_line(b: dict) -> None:
    lines = b["checkpoint"].split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(b"another tree").digest()).decode()
    b["checkpoint"] = "\n".join(lines)


def _signed_by_another_key(b: dict) -> None:
    body, _ = _body_and_signatures(b["checkpoint"])
    other = NoteSigner.generate(b["origin"])  # same name as the log's key, another key (and key hash)
    b["checkpoint"] = body + "\n" + _sig_line(other.name, other.key_id.to_bytes(4, "big"), other.sign(body.encode()))


def _pinned_key_hash_with_another_keys_signature(b: dict) -> None:
    """The pinned key's name and key hash, the signature bytes of another key."""
    body, _ = _body_and_signatures(b["checkpoint"])
    pin = NoteVerifier.from_text(b["vkey"])
    other = NoteSigner.generate(pin.name)
    b["checkpoint"] = body + "\n" + _sig_line(pin.name, pin.key_id.to_bytes(4, "big"), other.sign(body.encode()))


def _another_origin(world):
    def mutate(b: dict) -> None:
        cp = Checkpoint.from_text(_body_and_signatures(b["checkpoint"])[0])
        other = Checkpoint(b["origin"] + "-other", cp.tree_size, cp.root_hash)
        b["checkpoint"] = sign_checkpoint(other, world.ledger.note_signer)  # by the pinned key itself
    return mutate


def _wrong_key_hash_in_vkey(world):
    """The pin's key hash changed, and a note signed by the real key under that hash: only
    checking the pin's hash against its name and key refuses it."""
    def mutate(b: dict) -> None:
        name, key_id, key = b["vkey"].split("+", 2)
        bad = _flip_hex(key_id.lower())
        b["vkey"] = f"{name}+{bad}+{key}"
        body, _ = _body_and_signatures(b["checkpoint"])
        signer = world.ledger.note_signer
        b["checkpoint"] = body + "\n" + _sig_line(name, bytes.fromhex(bad), signer.sign(body.encode()))
    return mutate


def _wrong_key_hash_in_vkey_only(b: dict) -> None:
    name, key_id, key = b["vkey"].split("+", 2)
    b["vkey"] = f"{name}+{_flip_hex(key_id.lower())}+{key}"


OK, BAD = True, False
TAMPERING = {
    # name: (mutation, (entry, checkpoint, inclusion))
    "proof-hash-flipped": (lambda b, w: b["inclusion_proof"].__setitem__(0, _flip_hex(b["inclusion_proof"][0])), (OK, OK, BAD)),
    "proof-last-hash-flipped": (lambda b, w: b["inclusion_proof"].__setitem__(-1, _flip_hex(b["inclusion_proof"][-1], 63)), (OK, OK, BAD)),
    "proof-hash-removed": (lambda b, w: b["inclusion_proof"].pop(), (OK, OK, BAD)),
    "proof-first-hash-removed": (lambda b, w: b["inclusion_proof"].pop(0), (OK, OK, BAD)),
    "proof-hash-added": (lambda b, w: b["inclusion_proof"].append("00" * 32), (OK, OK, BAD)),
    "proof-hash-uppercase": (lambda b, w: b["inclusion_proof"].__setitem__(0, b["inclusion_proof"][0].upper()), (OK, OK, BAD)),
    "proof-hash-31-bytes": (lambda b, w: b["inclusion_proof"].__setitem__(0, b["inclusion_proof"][0][:62]), (OK, OK, BAD)),
    "proof-not-a-list": (lambda b, w: b.update(inclusion_proof=",".join(b["inclusion_proof"])), (OK, OK, BAD)),
    "leaf-index-next": (lambda b, w: b.update(leaf_index=b["leaf_index"] + 1), (OK, OK, BAD)),
    "leaf-index-previous": (lambda b, w: b.update(leaf_index=b["leaf_index"] - 1), (OK, OK, BAD)),
    "leaf-index-at-size": (lambda b, w: b.update(leaf_index=b["tree_size"]), (OK, OK, BAD)),
    "leaf-index-negative": (lambda b, w: b.update(leaf_index=-1), (OK, OK, BAD)),
    "leaf-index-string": (lambda b, w: b.update(leaf_index=str(b["leaf_index"])), (OK, OK, BAD)),
    "leaf-index-fraction": (lambda b, w: b.update(leaf_index=b["leaf_index"] + 0.5), (OK, OK, BAD)),
    "leaf-byte-edited": (lambda b, w: _edit_leaf_byte(b), (BAD, OK, BAD)),
    "leaf-not-base64": (lambda b, w: b.update(leaf=b["leaf"][:-1] + "!"), (BAD, OK, BAD)),
    "leaf-hash-edited": (lambda b, w: b.update(leaf_hash=_flip_hex(b["leaf_hash"], 10)), (BAD, OK, OK)),
    "record-id-of-another-record": (lambda b, w: b.update(record_id=w.record_ids[0]), (BAD, OK, OK)),
    "tree-size-changed": (lambda b, w: b.update(tree_size=b["tree_size"] + 1), (OK, BAD, BAD)),
    "root-line-changed": (lambda b, w: _change_root_line(b), (OK, BAD, BAD)),
    "signed-by-another-key": (lambda b, w: _signed_by_another_key(b), (OK, BAD, OK)),
    "pinned-key-hash-another-keys-signature": (lambda b, w: _pinned_key_hash_with_another_keys_signature(b), (OK, BAD, OK)),
    "checkpoint-for-another-origin": (lambda b, w: _another_origin(w)(b), (OK, BAD, OK)),
    "checked-against-another-origin": (lambda b, w: b.update(origin=b["origin"] + "-other"), (OK, BAD, OK)),
    "pinned-vkey-wrong-key-hash": (lambda b, w: _wrong_key_hash_in_vkey(w)(b), (OK, BAD, OK)),
    "pinned-vkey-wrong-key-hash-only": (lambda b, w: _wrong_key_hash_in_vkey_only(b), (OK, BAD, OK)),
    "pinned-vkey-of-another-log": (lambda b, w: b.update(vkey=NoteSigner.generate(b["origin"]).verifier_key_text), (OK, BAD, OK)),
    "pinned-vkey-is-a-private-key": (lambda b, w: b.update(vkey=w.ledger.note_signer.to_private_key_text()), (OK, BAD, OK)),
    "signature-line-removed": (lambda b, w: b.update(checkpoint=_body_and_signatures(b["checkpoint"])[0] + "\n"), (OK, BAD, OK)),
    "checkpoint-without-blank-line": (lambda b, w: b.update(checkpoint=b["checkpoint"].replace("\n\n", "\n")), (OK, BAD, BAD)),
    "checkpoint-not-a-string": (lambda b, w: b.update(checkpoint=None), (OK, BAD, BAD)),
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_a_tampered_bundle_fails_exactly_its_check(world, bundle, name):
    mutate, expected = TAMPERING[name]
    b = copy.deepcopy(bundle)
    mutate(b, world)
    assert b != bundle
    [r] = verify_js(b)
    assert r["ok"] is False
    assert verdicts(r) == expected, r["checks"]


def test_a_wrong_key_hash_in_the_pin_is_refused_for_that_reason(world, bundle):
    b = copy.deepcopy(bundle)
    _wrong_key_hash_in_vkey(world)(b)
    [r] = verify_js(b)
    assert re.search(r"hash .* does not match its name and key", detail(r, "checkpoint")), r["checks"]


@pytest.mark.parametrize("change, length", [(lambda p: p.pop(), -1), (lambda p: p.append("00" * 32), +1)])
def test_a_proof_of_the_wrong_length_is_refused_for_its_length(bundle, change, length):
    b = copy.deepcopy(bundle)
    change(b["inclusion_proof"])
    [r] = verify_js(b)
    want = len(bundle["inclusion_proof"])
    assert detail(r, "inclusion") == f"the proof has {want + length} hashes, expected {want}"


def test_a_private_key_pinned_by_mistake_is_refused_and_not_echoed(world, bundle):
    secret = world.ledger.note_signer.to_private_key_text()
    [r] = verify_js({**bundle, "vkey": secret})
    assert "not a verifier key" in detail(r, "checkpoint")
    assert secret.rsplit("+", 1)[1] not in json.dumps(r)


def test_a_signature_that_does_not_verify_says_so(bundle):
    b = copy.deepcopy(bundle)
    _pinned_key_hash_with_another_keys_signature(b)
    [r] = verify_js(b)
    assert "does not verify" in detail(r, "checkpoint")


@pytest.mark.parametrize("value", [None, [], "bundle", 7, {}, {"leaf": 5, "checkpoint": 5, "inclusion_proof": 5, "vkey": 5}])
def test_a_bundle_that_is_not_one_fails_every_check_without_throwing(value):
    [r] = verify_js(value)
    assert r["ok"] is False and verdicts(r) == (BAD, BAD, BAD)


def test_without_webcrypto_verify_fails_its_checks_and_does_not_throw(bundle):
    [r] = verify_js(bundle, env="no-subtle")
    assert r["ok"] is False and verdicts(r) == (BAD, BAD, BAD)
    assert "crypto" in detail(r, "entry")


# -- differential: inclusion against ledger.merkle, over sizes and every index ---------------


def _py_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, proof, root)
    except VerificationError:
        return False
    return True


def test_inclusion_agrees_with_ledger_merkle_over_sizes_and_every_index():
    origin = "differential.tds-ledger.example/log"
    signer = NoteSigner.generate(origin)
    bundles, expected = [], []
    for size in [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100]:
        leaves = [canonicalize({"id": f"leaf-{i}", "n": i}) for i in range(size + 1)]
        hashes = [merkle.leaf_hash(x) for x in leaves]
        root = merkle.root_hash(hashes[:size])
        note = sign_checkpoint(Checkpoint(origin, size, root), signer)

        def case(leaf_at: int, index: int, proof: list[bytes], tree_size: int = size) -> None:
            bundles.append({
                "origin": origin, "vkey": signer.verifier_key_text, "record_id": f"leaf-{leaf_at}",
                "leaf_index": index, "tree_size": tree_size, "leaf": base64.b64encode(leaves[leaf_at]).decode(),
                "leaf_hash": hashes[leaf_at].hex(), "inclusion_proof": [p.hex() for p in proof], "checkpoint": note,
            })  # fmt: skip
            expected.append(_py_inclusion(leaves[leaf_at], index, tree_size, proof, root))

        for i in range(size):
            proof = merkle.inclusion_proof(hashes, i, size)
            case(i, i, proof)  # the genuine proof
            case(i, (i + 1) % size, proof)  # at another index
            case((i + 1) % size, i, proof)  # another leaf
            case(i, i, proof + [hashes[0]])  # one hash too many
            case(i, i, proof[::-1])  # in the wrong order
            case(i, i, [root] + proof[1:] if proof else [root])
            if proof:
                case(i, i, proof[:-1])  # one hash short
                case(i, i, [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:])  # a flipped bit
            case(i, i, merkle.inclusion_proof(hashes, i, size + 1), size + 1)  # a proof in the next tree
        case(size, size, merkle.inclusion_proof(hashes, size, size + 1))  # index = size
    results = verify_js(*bundles)
    assert expected.count(True) > 172 and expected.count(False) > 1000  # both verdicts, every genuine proof
    mismatches = [
        (b["tree_size"], b["leaf_index"], len(b["inclusion_proof"]), want, r["checks"][2]["detail"])
        for b, r, want in zip(bundles, results, expected)
        if r["checks"][2]["ok"] is not want
    ]
    assert mismatches == []
    for b, r in zip(bundles, results):
        if b["tree_size"] == Checkpoint.from_text(b["checkpoint"].split("\n\n")[0] + "\n").tree_size:
            assert verdicts(r)[:2] == (OK, OK), r  # untouched entry and checkpoint pass


# -- differential: the checkpoint check against ledger.checkpoint ----------------------------


def _checkpoint_variants() -> dict[str, tuple[str, bool, str, str]]:
    origin = "notes.tds-ledger.example/log"
    signer, other, witness = NoteSigner.generate(origin), NoteSigner.generate(origin), NoteSigner.generate("witness.example")
    root = hashlib.sha256(b"root").digest()
    b64root = base64.b64encode(root).decode()
    body = f"{origin}\n42\n{b64root}\n"

    def sig(s: NoteSigner, text: str, key_id: int | None = None, name: str | None = None) -> str:
        kid = (s.key_id if key_id is None else key_id).to_bytes(4, "big")
        return _sig_line(name or s.name, kid, s.sign(text.encode()))

    def signed(text: str) -> str:
        return text + "\n" + sig(signer, text)

    good = signed(body)
    noncanonical = b64root[:-2] + chr(ord(b64root[-2]) + 1) + "="  # same length, nonzero unused bits
    variants = {
        "genuine": (good, True),
        "cosigned-by-a-witness": (good + sig(witness, body), True),
        "witness-first": (body + "\n" + sig(witness, body) + sig(signer, body), True),
        "signed-twice": (good + sig(signer, body), True),
        "and-by-another-key-of-the-same-name": (good + sig(other, body), True),
        "with-an-extension-line": (signed(body + "extension line\n"), True),
        "only-another-key": (body + "\n" + sig(other, body), False),
        "a-second-signature-by-the-pin-fails": (good + sig(other, body, key_id=signer.key_id), False),
        "empty-extension-line": (signed(body + "\nextension\n"), False),
        "size-with-leading-zero": (signed(f"{origin}\n042\n{b64root}\n"), False),
        "another-size": (signed(f"{origin}\n43\n{b64root}\n"), False),
        "root-non-canonical-base64": (signed(f"{origin}\n42\n{noncanonical}\n"), False),
        "root-unpadded": (signed(f"{origin}\n42\n{b64root.rstrip('=')}\n"), False),
        "root-31-bytes": (signed(f"{origin}\n42\n{base64.b64encode(root[:31]).decode()}\n"), False),
        "no-root-line": (signed(f"{origin}\n42\n"), False),
        "origin-with-a-trailing-space": (signed(f"{origin} \n42\n{b64root}\n"), False),
        "crlf": (signed(body).replace("\n", "\r\n"), False),
        "a-control-character-in-an-extension-line": (signed(body + "ext\x01ension\n"), False),
        "a-tab-in-an-extension-line": (signed(body + "ext\tension\n"), False),
        "hyphen-for-em-dash": (good.replace(EM_DASH, "-"), False),
        "a-malformed-unknown-signature-line": (good + f"{EM_DASH} witness.example not*base64\n", False),
        "a-signature-line-without-a-key": (good + f"{EM_DASH} witness.example\n", False),
        "no-final-newline": (good[:-1], False),
        "signature-63-bytes": (body + "\n" + _sig_line(origin, signer.key_id.to_bytes(4, "big"), signer.sign(body.encode())[:63]), False),
        "signed-without-the-final-newline": (body + "\n" + _sig_line(origin, signer.key_id.to_bytes(4, "big"), signer.sign(body[:-1].encode())), False),
        "signature-of-another-body": (body + "\n" + sig(signer, body.replace("42", "41")), False),
        "no-signature-lines": (body + "\n\n", False),
    }
    return {k: (v, want, signer.verifier_key_text, origin) for k, (v, want) in variants.items()}


def _py_checkpoint(note: str, vkey: str, origin: str) -> bool:
    try:
        return verify_checkpoint(note, NoteVerifier.from_text(vkey), origin=origin).tree_size == 42
    except (VerificationError, ValueError):
        return False


def test_checkpoint_check_agrees_with_ledger_checkpoint():
    variants = _checkpoint_variants()
    bundles = [
        {"origin": origin, "vkey": vkey, "record_id": "x", "leaf_index": 0, "tree_size": 42, "leaf": "", "leaf_hash": "",
         "inclusion_proof": [], "checkpoint": note}
        for note, _, vkey, origin in variants.values()
    ]  # fmt: skip
    results = verify_js(*bundles)
    got = {name: r["checks"][1]["ok"] for name, r in zip(variants, results)}
    python = {name: _py_checkpoint(note, vkey, origin) for name, (note, _, vkey, origin) in variants.items()}
    wanted = {name: want for name, (_, want, _, _) in variants.items()}
    assert python == wanted  # the reference says what the test says
    assert got == wanted


# -- render: the panel -----------------------------------------------------------------------


def panel_spec() -> dict[str, Any]:
    def li(check: str) -> dict[str, Any]:
        attrs = {"data-check": check, "data-pass": f"{check}: geprüft <b>", "data-fail": f"{check}: FEHLER"}
        return {"tag": "li", "attrs": attrs, "text": f"{check}…"}

    summary = {"data-summary": "", "data-pass": "Alles geprüft", "data-fail": "Prüfung fehlgeschlagen",
               "data-unsupported": "Dieser Browser kann nicht prüfen"}  # fmt: skip
    return {"tag": "section", "attrs": {"id": "verify", "data-state": "pending", "aria-live": "polite"}, "children": [
        {"tag": "h2", "text": "Prüfung"},
        {"tag": "ul", "children": [li("entry"), li("checkpoint"), li("inclusion")]},
        {"tag": "p", "attrs": summary, "text": "Wird geprüft…"},
    ]}  # fmt: skip


def _items(panel: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [ul] = [c for c in panel["children"] if c["tag"] == "ul"]
    return {li["attrs"]["data-check"]: li for li in ul["children"]}


def _summary(panel: dict[str, Any]) -> dict[str, Any]:
    [p] = [c for c in panel["children"] if "data-summary" in c["attrs"]]
    return p


def test_render_fills_a_verified_panel(bundle):
    answer = node("render", panel=panel_spec(), bundle=bundle)
    panel, result = answer["out"]["panel"], answer["out"]["result"]
    assert result["ok"] is True
    assert panel["attrs"]["data-state"] == "verified" and panel["attrs"]["aria-live"] == "polite"
    for check, li in _items(panel).items():
        assert li["attrs"]["data-result"] == "pass" and li["text"] == f"{check}: geprüft <b>"
    assert _summary(panel)["text"] == "Alles geprüft"
    assert [c for c in panel["children"] if c["tag"] == "h2"][0]["text"] == "Prüfung"  # the rest is left alone
    assert [level for level, _ in answer["logs"]] == ["info"] * 3


def test_render_marks_the_failed_check(bundle):
    b = copy.deepcopy(bundle)
    b["inclusion_proof"][0] = _flip_hex(b["inclusion_proof"][0])
    answer = node("render", panel=panel_spec(), bundle=b)
    panel = answer["out"]["panel"]
    assert panel["attrs"]["data-state"] == "failed"
    items = _items(panel)
    assert [items[c]["attrs"]["data-result"] for c in CHECK_IDS] == ["pass", "pass", "fail"]
    assert items["inclusion"]["text"] == "inclusion: FEHLER" and items["entry"]["text"] == "entry: geprüft <b>"
    assert _summary(panel)["text"] == "Prüfung fehlgeschlagen"
    assert any(level == "warn" and "inclusion" in text for level, text in answer["logs"])


@pytest.mark.parametrize("env", ["no-subtle", "no-ed25519", "ed25519-import-only", "ed25519-verify-false"])
def test_render_without_webcrypto_ed25519_says_unsupported(bundle, env):
    answer = node("render", panel=panel_spec(), bundle=bundle, env=env)
    panel = answer["out"]["panel"]
    assert panel["attrs"]["data-state"] == "unsupported"
    assert _summary(panel)["text"] == "Dieser Browser kann nicht prüfen"
    assert all("data-result" not in li["attrs"] for li in _items(panel).values())


# -- loading: in a page, and as a classic script ---------------------------------------------


@pytest.mark.parametrize("ready", ["loading", "interactive", "complete"])
def test_at_load_it_verifies_the_embedded_bundle_into_the_panel(bundle, ready):
    answer = node("autoload", panel=panel_spec(), proof=json.dumps(bundle), readyState=ready)["out"]
    assert answer["listened"] is (ready == "loading")
    if ready == "loading":
        assert answer["before"] == "pending"  # waits for DOMContentLoaded
    assert answer["panel"]["attrs"]["data-state"] == "verified"


def test_at_load_a_bundle_that_is_not_json_fails_the_panel():
    answer = node("autoload", panel=panel_spec(), proof="{not json", readyState="complete")["out"]
    assert answer["panel"]["attrs"]["data-state"] == "failed"
    assert {li["attrs"]["data-result"] for li in _items(answer["panel"]).values()} == {"fail"}


def _as_driver_writes(spec: dict[str, Any]) -> dict[str, Any]:
    return {"tag": spec["tag"], "attrs": spec.get("attrs", {}), "text": spec.get("text", ""),
            "children": [_as_driver_writes(c) for c in spec.get("children", [])]}  # fmt: skip


def test_at_load_without_a_bundle_the_panel_is_left_alone():
    answer = node("autoload", panel=panel_spec(), proof=None, readyState="complete")["out"]
    assert answer["panel"] == _as_driver_writes(panel_spec())
    assert answer["panel"]["attrs"]["data-state"] == "pending"


def test_it_runs_as_a_classic_browser_script(bundle):
    answer = node("browser", bundle=bundle)["out"]
    assert answer["keys"] == ["render", "verify"] and answer["module"] == "undefined"
    assert answer["result"]["ok"] is True


def test_the_script_stays_self_contained_and_uses_no_markup():
    src = SCRIPT.read_text(encoding="utf-8")
    assert len(src.splitlines()) <= 300
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                      "fetch(", "XMLHttpRequest", "import(", "http://", "https://", "WebSocket", "sendBeacon"):  # fmt: skip
        assert forbidden not in src, forbidden
    assert not re.search(r"^\s*(import|export)\s", src, re.M), "ES module syntax in a classic script"
