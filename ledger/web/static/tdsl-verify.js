/* TDS Ledger: in-browser verification of a passport's log entry (DESIGN §3, §12).
 *
 * A classic script, no libraries, no requests: everything it checks is in the page's
 * <script type="application/json" id="tdsl-proof"> bundle, and the log identity it
 * trusts (origin, note verifier key) is the one the page pins there. WebCrypto does
 * the hashing (SHA-256) and the checkpoint signature (Ed25519).
 *
 *   TDSLVerify.verify(bundle) -> Promise<{ok, checks: [{id, ok, detail}]}>, never rejects
 *   TDSLVerify.render(panel, bundle) -> Promise<result | null>: fills the #verify panel
 *
 * The three checks are independent, so one tampered part fails its own check: inclusion
 * is computed from the leaf bytes and against the root the checkpoint states, even when
 * another check failed. `ok` needs all three.
 */
(function (root) {
  "use strict";

  const enc = new TextEncoder();
  const ED25519 = { name: "Ed25519" };
  // RFC 8032 §7.1 test 1 (empty message): proves the browser's Ed25519 works at all.
  const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  const PROBE_SIG = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

  function subtle() {
    const s = root.crypto && root.crypto.subtle;
    if (!s) throw new Error("WebCrypto (crypto.subtle) is not available");
    return s;
  }
  function fail(message) { throw new Error(message); }

  // -- bytes ----------------------------------------------------------------------
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function equal(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }
  function toHex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
  function fromHex(s) { return Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16)); }
  // A 32-byte hash as the receipt writes it: exactly 64 lowercase hex digits.
  function hash32(s, what) {
    if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) fail(what + " is not 64 lowercase hex digits");
    return fromHex(s);
  }
  // Standard padded base64, canonical (zero unused bits), as ledger/checkpoint.py reads it.
  function base64(s, what) {
    if (typeof s !== "string" || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
      fail(what + " is not standard padded base64");
    }
    const bin = root.atob(s);
    if (root.btoa(bin) !== s) fail(what + " is not canonical base64");
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  async function sha256(...parts) {
    return new Uint8Array(await subtle().digest("SHA-256", concat(...parts)));
  }
  // RFC 9162 §2.1.1: leaf = SHA-256(0x00 ‖ leaf input), node = SHA-256(0x01 ‖ left ‖ right).
  const leafHash = (leaf) => sha256(Uint8Array.of(0), leaf);
  const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r);

  // -- 1. entry -------------------------------------------------------------------
  async function checkEntry(b, state) {
    const leaf = base64(b.leaf, "leaf");
    state.leafHash = await leafHash(leaf);
    let doc;
    try {
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(leaf));
    } catch (e) {
      fail("the leaf bytes are not UTF-8 JSON");
    }
    if (!doc || typeof doc !== "object" || doc.id !== b.record_id) {
      fail("the leaf's id is not the record id " + JSON.stringify(b.record_id));
    }
    const h = toHex(state.leafHash);
    if (h !== b.leaf_hash) fail("the leaf hashes to " + h + ", not to the leaf_hash given");
    return "record " + b.record_id + ", leaf hash " + h;
  }

  // -- 2. checkpoint --------------------------------------------------------------
  // A note key name: non-empty, no '+', no Unicode White_Space, no control character.
  const NAME = /^[^+\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

  // The pinned verifier key `<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte key)>`; the
  // key hash is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4] and must match, else the pin is bad.
  async function pinnedKey(vkey) {
    if (typeof vkey !== "string" || vkey.startsWith("PRIVATE+KEY+")) fail("the pinned key is not a verifier key");
    const i = vkey.indexOf("+"), j = vkey.indexOf("+", i + 1); // base64 may hold '+', names may not
    if (i < 0 || j < 0) fail("the pinned key is not <name>+<key hash>+<key>");
    const name = vkey.slice(0, i), idHex = vkey.slice(i + 1, j);
    if (!NAME.test(name) || !/^[0-9a-fA-F]{8}$/.test(idHex)) fail("the pinned key is not <name>+<key hash>+<key>");
    const raw = base64(vkey.slice(j + 1), "the pinned key");
    if (raw.length !== 33 || raw[0] !== 0x01) fail("the pinned key is not 0x01 and a 32-byte Ed25519 key");
    const id = fromHex(idHex.toLowerCase());
    const actual = (await sha256(enc.encode(name), Uint8Array.of(0x0a, 0x01), raw.subarray(1))).subarray(0, 4);
    if (!equal(actual, id)) fail("the pinned key's hash " + idHex + " does not match its name and key (" + toHex(actual) + ")");
    const key = await subtle().importKey("raw", raw.subarray(1), ED25519, false, ["verify"]);
    return { name, id, key, label: name + "+" + toHex(id) };
  }

  async function checkCheckpoint(b, state) {
    const note = b.checkpoint;
    if (typeof note !== "string") fail("the checkpoint is not a string");
    if (/[\x00-\x09\x0b-\x1f]/.test(note)) fail("the checkpoint holds a control character");
    // Signed note: the body (every line ending in "\n"), a blank line, signature lines.
    const split = note.lastIndexOf("\n\n");
    if (split < 0) fail("the checkpoint has no blank line before its signatures");
    const body = note.slice(0, split + 1), sigs = note.slice(split + 2);
    // C2SP checkpoint body: origin, decimal size, base64 root, optional extension lines.
    const lines = body.slice(0, -1).split("\n");
    if (lines.length < 3) fail("the checkpoint needs origin, size and root lines");
    const rootHash = base64(lines[2], "the checkpoint root");
    if (rootHash.length !== 32) fail("the checkpoint root is not 32 bytes");
    state.root = rootHash; // the inclusion check runs against it, whatever happens below
    if (lines[0] !== b.origin) fail("the checkpoint is for " + JSON.stringify(lines[0]) + ", not " + JSON.stringify(b.origin));
    if (!/^(0|[1-9][0-9]*)$/.test(lines[1]) || lines[1] !== String(b.tree_size)) {
      fail("the checkpoint's size " + JSON.stringify(lines[1]) + " is not tree_size " + b.tree_size);
    }
    if (lines.slice(3).some((l) => l === "")) fail("the checkpoint has an empty extension line");

    const pin = await pinnedKey(b.vkey);
    if (!sigs.endsWith("\n")) fail("the checkpoint's signature lines do not end in a newline");
    const message = enc.encode(body); // the signed message: the body, final newline included
    let signed = 0;
    for (const line of sigs.slice(0, -1).split("\n")) {
      // "— <name> <base64(4-byte key hash ‖ signature)>", the dash an em dash (U+2014).
      const space = line.indexOf(" ", 2);
      if (!line.startsWith("\u2014 ") || space < 0) fail("malformed signature line " + JSON.stringify(line.slice(0, 80)));
      const name = line.slice(2, space);
      const raw = base64(line.slice(space + 1), "a signature");
      if (!NAME.test(name) || raw.length < 5) fail("malformed signature line " + JSON.stringify(line.slice(0, 80)));
      if (name !== pin.name || !equal(raw.subarray(0, 4), pin.id)) continue; // a witness or another key
      const sig = raw.subarray(4);
      if (sig.length !== 64 || !(await subtle().verify(ED25519, pin.key, sig, message))) {
        fail("the signature by " + pin.label + " does not verify");
      }
      signed++;
    }
    if (!signed) fail("the checkpoint carries no signature by the pinned key " + pin.label);
    return "size " + lines[1] + ", root " + toHex(rootHash) + ", signed by " + pin.label;
  }

  // -- 3. inclusion (RFC 9162 §2.1.3.2) ---------------------------------------------
  function uint(v, what) {
    if (!Number.isSafeInteger(v) || v < 0) fail(what + " is not a non-negative integer");
    return BigInt(v); // BigInt: JavaScript's bit operators are 32-bit
  }
  // The length of PATH(index, size): one sibling per split on the way down.
  function pathLength(index, size) {
    let n = 0, lo = 0n, hi = size;
    while (hi - lo > 1n) {
      let k = 1n;
      while (k << 1n < hi - lo) k <<= 1n; // the largest power of two below the width
      if (index < lo + k) hi = lo + k; else lo += k;
      n++;
    }
    return n;
  }

  async function checkInclusion(b, state) {
    const index = uint(b.leaf_index, "leaf_index"), size = uint(b.tree_size, "tree_size");
    if (index >= size) fail("leaf_index " + index + " is not below tree_size " + size);
    if (!Array.isArray(b.inclusion_proof)) fail("the inclusion proof is not a list");
    const proof = b.inclusion_proof.map((h, i) => hash32(h, "proof hash " + i));
    const want = pathLength(index, size);
    if (proof.length !== want) fail("the proof has " + proof.length + " hashes, expected " + want);
    if (!state.leafHash) fail("no leaf hash: the leaf bytes did not decode");
    if (!state.root) fail("no root: the checkpoint did not parse");
    let fn = index, sn = size - 1n, r = state.leafHash;
    for (const p of proof) {
      if (sn === 0n) fail("the proof is longer than the path to the root");
      if (fn & 1n || fn === sn) {
        r = await nodeHash(p, r);
        while (!(fn & 1n) && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) fail("the proof is shorter than the path to the root");
    if (!equal(r, state.root)) fail("the proof leads to root " + toHex(r) + ", not the checkpoint's");
    return "leaf " + index + " of " + size;
  }

  // -- API ------------------------------------------------------------------------
  async function verify(bundle) {
    const checks = [], state = {};
    const steps = [["entry", checkEntry], ["checkpoint", checkCheckpoint], ["inclusion", checkInclusion]];
    for (const [id, step] of steps) {
      try {
        if (!bundle || typeof bundle !== "object") fail("the proof bundle is not a JSON object");
        checks.push({ id, ok: true, detail: await step(bundle, state) });
      } catch (e) {
        checks.push({ id, ok: false, detail: String((e && e.message) || e) });
      }
    }
    return { ok: checks.every((c) => c.ok), checks };
  }

  async function supported() {
    try {
      const s = subtle();
      const key = await s.importKey("raw", fromHex(PROBE_KEY), ED25519, false, ["verify"]);
      return (await s.verify(ED25519, key, fromHex(PROBE_SIG), new Uint8Array(0))) === true;
    } catch (e) {
      return false;
    }
  }

  // Text comes from the panel's own data-* attributes (translated by the server); only
  // textContent and attributes are written, never markup.
  function label(el, attr) {
    const text = el && el.getAttribute(attr);
    if (text !== null && text !== undefined) el.textContent = text;
  }

  async function render(panel, bundle) {
    const summary = panel.querySelector("[data-summary]");
    if (!(await supported())) {
      panel.setAttribute("data-state", "unsupported");
      label(summary, "data-unsupported");
      return null;
    }
    const result = await verify(bundle);
    const byId = {};
    result.checks.forEach((c) => { byId[c.id] = c; });
    for (const li of Array.from(panel.querySelectorAll("li[data-check]"))) {
      const c = byId[li.getAttribute("data-check")];
      const pass = !!(c && c.ok);
      li.setAttribute("data-result", pass ? "pass" : "fail");
      label(li, pass ? "data-pass" : "data-fail");
    }
    label(summary, result.ok ? "data-pass" : "data-fail");
    panel.setAttribute("data-state", result.ok ? "verified" : "failed");
    const log = root.console || { info() {}, warn() {} };
    result.checks.forEach((c) => log[c.ok ? "info" : "warn"]("tdsl-verify " + c.id + (c.ok ? " ok: " : " FAILED: ") + c.detail));
    return result;
  }

  const api = { verify, render };
  root.TDSLVerify = api;
  if (typeof module !== "undefined" && module && module.exports) module.exports = api;

  // In a page: verify the embedded bundle into the #verify panel once the DOM is there.
  if (typeof document !== "undefined" && document && document.getElementById) {
    const start = () => {
      const data = document.getElementById("tdsl-proof"), panel = document.getElementById("verify");
      if (!data || !panel) return;
      let bundle = null;
      try { bundle = JSON.parse(data.textContent); } catch (e) { /* verify reports it */ }
      render(panel, bundle).catch((e) => { // a panel not of the expected shape
        panel.setAttribute("data-state", "failed");
        if (root.console) root.console.warn("tdsl-verify: " + e);
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})(typeof globalThis !== "undefined" ? globalThis : this);
