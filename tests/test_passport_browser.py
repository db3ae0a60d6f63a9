"""The public passport page in a real browser (DESIGN §12): headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium) loads the page from a real
uvicorn server over a real SQLite ledger, and the page's own script verifies the proof
bundle the server embedded. Nothing is mocked: to make the server serve a wrong inclusion
proof or a wrong checkpoint, the test edits the stored rows those are read from.

- the page verifies (all three checks pass), loads nothing from another origin, logs no
  error, does not scroll sideways on a phone; screenshots go to ``tests/artifacts/``;
- a tampered tile (a hash the passport's inclusion proof is computed from) fails the
  inclusion check, and only it;
- a tampered checkpoint (its root line changed, its signature kept) fails the checkpoint
  check (and the inclusion check, which runs against the root the checkpoint states);
- with JavaScript off the page still shows the passport, and the panel its no-script text;
- ``?lang=zh-CN`` and ``Accept-Language: zh-CN`` give the Simplified Chinese page, whose
  CJK text really renders (a font with the glyphs is installed).

The browser is required, never skipped: without ``/usr/bin/chromium`` and
``/usr/bin/chromedriver`` the tests fail and say how to install them (``make test`` does).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from passport_support import FACTS, PACK_GTIN, PassportWorld, make_passport_world
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from test_api_support import free_port

from api.app import create_app
from ledger import passport_builder
from ledger.config import Settings
from ledger.kinds.pcf import parse_pcf
from ledger.web.i18n import MESSAGES


pytestmark = pytest.mark.xdist_group("passport_browser")  # one server and one browser per run

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots (not committed)
PHONE = (390, 844)
ITEM = f"/01/0{PACK_GTIN}/21/{FACTS['serial']}"
CHECKS = ("entry", "checkpoint", "inclusion")
WAIT_SECONDS = 15
HASH = 32


# -- the server ------------------------------------------------------------------------------


@dataclass
class Site:
    base: str  # http://127.0.0.1:<port>, also the app's public_url
    world: PassportWorld
    db: Path
    record_id: str
    leaf_index: int

    @property
    def page(self) -> str:
        return self.base + ITEM

    def receipt(self) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/v1/records/{self.record_id}/receipt", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


@contextmanager
def _serving(app: Any, port: int) -> Iterator[None]:
    """``app`` under uvicorn in a thread on 127.0.0.1:``port`` until the block ends."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="passport-browser-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("passport-browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    world = make_passport_world(data_dir)
    # Issued at the server's own URL, so the page, its QR code and the issuer's did:web
    # all name the origin the browser loads them from.
    issued = passport_builder.build(FACTS, parse_pcf(world.pack.payload).view, private_key=world.exporter.key,
                                    issuer_name=world.exporter.name, public_url=base, status_index=0)  # fmt: skip
    sub = world.passport(issued)
    [appended] = world.submit(sub)
    world.ledger.seal()  # a checkpoint covers the passport
    app = create_app(world.ledger, Settings(data_dir=data_dir, public_url=base), start_sealer=False)
    with _serving(app, port):
        yield Site(base, world, data_dir / "ledger.db", sub.envelope.id, appended.leaf_index)


# -- the browser -----------------------------------------------------------------------------


def _options(*, javascript: bool = True) -> Options:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: the passport page is tested in Debian's headless Chromium; "
                    "install it with `make /usr/bin/chromedriver` (apt-get install chromium chromium-driver)",
                    pytrace=False)  # fmt: skip
    o = Options()
    o.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={PHONE[0]},{PHONE[1]}", "--lang=en-US", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-extensions",
                # no other host resolves: a request off the page's origin fails, and shows in the log
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):  # fmt: skip
        o.add_argument(arg)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if not javascript:
        o.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return o


def _driver(*, javascript: bool = True) -> WebDriver:
    driver = webdriver.Chrome(options=_options(javascript=javascript), service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    _phone(driver)
    return driver


def _phone(driver: WebDriver) -> None:
    """A phone's viewport (a desktop window cannot be narrower than 500 px): 390 × 844 CSS
    pixels at twice the density, the page's ``<meta name="viewport">`` honoured."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True})  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = _driver()
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: WebDriver, url: str) -> list[dict[str, Any]]:
    """Load ``url``; the browser's console entries of that load (the log is drained first)."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(url)
    return driver.get_log("browser")


def _verified(driver: WebDriver) -> str:
    """Wait until the panel has run; its final ``data-state``."""
    panel = driver.find_element(By.ID, "verify")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: panel.get_attribute("data-state") != "pending",
                                              "the verification panel stayed pending")  # fmt: skip
    return panel.get_attribute("data-state")


def _panel(driver: WebDriver) -> dict[str, Any]:
    panel = driver.find_element(By.ID, "verify")
    items = {li.get_attribute("data-check"): li for li in panel.find_elements(By.CSS_SELECTOR, "li[data-check]")}
    assert sorted(items) == sorted(CHECKS), f"the panel's checks are {sorted(items)}"
    summary = panel.find_element(By.CSS_SELECTOR, "[data-summary]")
    return {
        "state": panel.get_attribute("data-state"),
        "results": {k: li.get_attribute("data-result") for k, li in items.items()},
        "texts": {k: li.text for k, li in items.items()},
        "summary": summary.text,
        "summary_shown": summary.is_displayed(),
    }


def _assert_panel(driver: WebDriver, lang: str, results: dict[str, str]) -> None:
    m, p = MESSAGES[lang], _panel(driver)
    ok = all(r == "pass" for r in results.values())
    assert p["state"] == ("verified" if ok else "failed"), p
    assert p["results"] == results, p
    assert p["texts"] == {k: m[f"check_{k}_{r}"] for k, r in results.items()}, p
    assert p["summary"] == m["summary_pass" if ok else "summary_fail"] and p["summary_shown"], p


def _severe(console: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in console if e.get("level") == "SEVERE"]


def _warnings(console: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in console if e.get("level") == "WARNING"]


def _requests(driver: WebDriver) -> list[str]:
    """Every URL the page asked for since ``_open``: the DevTools network log and the
    page's own resource timing (which also lists what the cache served)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    urls += driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return urls


def _assert_same_origin(driver: WebDriver, site: Site) -> None:
    urls = _requests(driver)
    assert any(u.startswith(f"{site.base}/static/") for u in urls), urls  # the log is really read
    foreign = [u for u in urls if not (u.startswith(site.base + "/") or u.startswith("data:"))]
    assert not foreign, f"the page loaded resources from elsewhere than its origin: {foreign}"


def _screenshot(driver: WebDriver, name: str) -> bytes:
    """A full-page PNG at the current width, to ``tests/artifacts/<name>`` and ``/tmp/<name>``."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    })  # fmt: skip
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    ARTIFACTS.mkdir(exist_ok=True)
    for folder in (ARTIFACTS, Path("/tmp")):
        (folder / name).write_bytes(png)
    return png


def _panel_screenshot(driver: WebDriver, name: str) -> None:
    """The verification panel alone, to ``tests/artifacts/<name>``."""
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.find_element(By.ID, "verify").screenshot(str(ARTIFACTS / name))


# -- editing what the server reads -----------------------------------------------------------


@contextmanager
def _db(site: Site) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(site.db, timeout=10)
    try:
        with conn:  # one transaction, committed
            yield conn
    finally:
        conn.close()


@contextmanager
def _tile_tampered(site: Site) -> Iterator[None]:
    """Flip one byte of a leaf hash in the stored level-0 tile that is not the passport's
    own leaf: its inclusion proof (which covers every other leaf) changes; its entry and
    the checkpoint do not. The tree is one partial tile, which the store reads from the
    database on each request (only full tiles are cached: ``SqlStore._hash_ranges``)."""
    log = site.world.ledger.log.id
    with _db(site) as conn:
        assert conn.execute("SELECT COUNT(*) FROM tiles WHERE log = ? AND level > 0", (log,)).fetchone() == (0,)
        [(data,)] = conn.execute("SELECT data FROM tiles WHERE log = ? AND level = 0 AND idx = 0", (log,)).fetchall()
    assert len(data) < 256 * HASH, "the tile is full: the store would serve it from its cache"
    victim = 0 if site.leaf_index != 0 else 1
    bad = bytearray(data)
    bad[victim * HASH] ^= 0x01
    with _db(site) as conn:
        conn.execute("UPDATE tiles SET data = ? WHERE log = ? AND level = 0 AND idx = 0", (bytes(bad), log))
    try:
        yield
    finally:
        with _db(site) as conn:
            conn.execute("UPDATE tiles SET data = ? WHERE log = ? AND level = 0 AND idx = 0", (data, log))


@contextmanager
def _checkpoint_tampered(site: Site) -> Iterator[None]:
    """Change the root line of the newest stored checkpoint note, its signature kept."""
    log = site.world.ledger.log.id
    with _db(site) as conn:
        size, note = conn.execute("SELECT tree_size, note FROM checkpoints WHERE log = ? ORDER BY tree_size DESC LIMIT 1",
                                  (log,)).fetchone()  # fmt: skip
    lines = note.split("\n")
    root = bytearray(base64.b64decode(lines[2], validate=True))
    assert len(root) == HASH, note
    root[-1] ^= 0x01
    tampered = "\n".join([*lines[:2], base64.b64encode(bytes(root)).decode(), *lines[3:]])
    assert tampered != note and tampered.split("\n\n")[1] == note.split("\n\n")[1]  # same signature lines
    with _db(site) as conn:
        conn.execute("UPDATE checkpoints SET note = ? WHERE log = ? AND tree_size = ?", (tampered, log, size))
    try:
        yield
    finally:
        with _db(site) as conn:
            conn.execute("UPDATE checkpoints SET note = ? WHERE log = ? AND tree_size = ?", (note, log, size))


# -- the tests -------------------------------------------------------------------------------


def test_the_page_verifies_in_the_browser(site: Site, browser: WebDriver):
    console = _open(browser, site.page)
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert browser.find_element(By.TAG_NAME, "h1").text == FACTS["name"]
    assert _verified(browser) == "verified"
    _assert_panel(browser, "en", dict.fromkeys(CHECKS, "pass"))
    assert not browser.find_elements(By.CSS_SELECTOR, "#verify .noscript")  # <noscript> is inert with scripts on
    console += browser.get_log("browser")
    assert not _severe(console), _severe(console)
    assert not _warnings(console), _warnings(console)
    _assert_same_origin(browser, site)
    # the QR code and the stylesheet really loaded
    assert browser.execute_script("const i = document.querySelector('figure.qr img'); return i.complete && i.naturalWidth > 0")
    assert browser.execute_script("return document.styleSheets.length > 0 && document.styleSheets[0].cssRules.length > 0")
    # a phone: nothing makes the page scroll sideways
    width, scroll = browser.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
    assert width == PHONE[0], width
    assert scroll <= width, f"the page is {scroll} px wide on a {width} px phone: something overflows"
    _screenshot(browser, "passport-page.png")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
    try:
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        _screenshot(browser, "passport-page-desktop.png")
    finally:
        _phone(browser)


def test_a_tampered_inclusion_proof_fails_the_inclusion_check(site: Site, browser: WebDriver):
    good = site.receipt()
    with _tile_tampered(site):
        served = site.receipt()
        assert served["inclusion_proof"] != good["inclusion_proof"]  # the server serves the wrong proof
        assert served["checkpoint"] == good["checkpoint"]
        console = _open(browser, site.page)
        assert _verified(browser) == "failed"
        _assert_panel(browser, "en", {"entry": "pass", "checkpoint": "pass", "inclusion": "fail"})
        console += browser.get_log("browser")
        _panel_screenshot(browser, "passport-panel-bad-proof.png")
    assert not _severe(console), _severe(console)
    [warning] = _warnings(console)
    assert "tdsl-verify inclusion FAILED: the proof leads to root" in warning, warning
    assert site.receipt() == good  # restored
    _open(browser, site.page)
    assert _verified(browser) == "verified"


def test_a_tampered_checkpoint_fails_the_checkpoint_check(site: Site, browser: WebDriver):
    good = site.receipt()
    with _checkpoint_tampered(site):
        served = site.receipt()
        assert served["checkpoint"] != good["checkpoint"] and served["inclusion_proof"] == good["inclusion_proof"]
        console = _open(browser, site.page)
        assert _verified(browser) == "failed"
        # inclusion is computed against the root the checkpoint states, so it fails too
        _assert_panel(browser, "en", {"entry": "pass", "checkpoint": "fail", "inclusion": "fail"})
        console += browser.get_log("browser")
        _panel_screenshot(browser, "passport-panel-bad-checkpoint.png")
    assert not _severe(console), _severe(console)
    warnings = _warnings(console)
    assert any("tdsl-verify checkpoint FAILED: the signature by" in w and "does not verify" in w for w in warnings), warnings
    assert any("tdsl-verify inclusion FAILED: the proof leads to root" in w for w in warnings), warnings
    assert site.receipt() == good  # restored
    _open(browser, site.page)
    assert _verified(browser) == "verified"


def test_without_javascript_the_page_still_shows_the_passport(site: Site):
    driver = _driver(javascript=False)
    try:
        driver.get(site.page)
        body = driver.find_element(By.TAG_NAME, "body").text
        m = MESSAGES["en"]
        assert driver.find_element(By.TAG_NAME, "h1").text == FACTS["name"]
        assert m["status_active"] in driver.find_element(By.CSS_SELECTOR, ".badge-active").text
        assert "PACK-0001" in body and f"0{PACK_GTIN}" in body
        panel = driver.find_element(By.ID, "verify")
        time.sleep(0.5)  # were a script to run, it would have by now
        assert panel.get_attribute("data-state") == "pending"
        assert all(li.get_attribute("data-result") is None for li in panel.find_elements(By.CSS_SELECTOR, "li[data-check]"))
        noscript = panel.find_element(By.CSS_SELECTOR, ".noscript")
        assert noscript.is_displayed() and noscript.text == m["noscript"]
        assert panel.find_element(By.CSS_SELECTOR, "[data-summary]").text == m["summary_initial"]
    finally:
        driver.quit()


def _cjk_renders(driver: WebDriver) -> bool:
    """Whether two different Chinese characters draw differently in the page's font: with
    no CJK font both are the same missing-glyph box."""
    return driver.execute_script("""
        const c = document.createElement("canvas"); c.width = c.height = 48;
        const g = c.getContext("2d");
        g.font = "32px " + getComputedStyle(document.body).fontFamily;
        const draw = (ch) => { g.clearRect(0, 0, 48, 48); g.fillText(ch, 4, 38);
                               return Array.from(g.getImageData(0, 0, 48, 48).data).join(); };
        return draw("验") !== draw("证");
    """)


def test_the_chinese_page(site: Site, browser: WebDriver):
    m = MESSAGES["zh-CN"]
    _open(browser, site.page + "?lang=zh-CN")
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    assert _verified(browser) == "verified"
    _assert_panel(browser, "zh-CN", dict.fromkeys(CHECKS, "pass"))
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "zh-CN,zh;q=0.9"}})
    try:
        console = _open(browser, site.page)
        assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
        assert _verified(browser) == "verified"
        _assert_panel(browser, "zh-CN", dict.fromkeys(CHECKS, "pass"))
        assert browser.find_element(By.ID, "verify-h").text == m["verify_h"]
        console += browser.get_log("browser")
        assert not _severe(console), _severe(console)
        _assert_same_origin(browser, site)
        width, scroll = browser.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert scroll <= width, f"the Chinese page is {scroll} px wide on a {width} px phone"
        _screenshot(browser, "passport-page-zh.png")
        assert _cjk_renders(browser), ("Chromium draws no Chinese glyphs: no CJK font is installed "
                                       "(Debian: apt-get install fonts-noto-cjk)")  # fmt: skip
        _open(browser, site.page + "?lang=en")  # ?lang= wins over Accept-Language
        assert browser.execute_script("return document.documentElement.lang") == "en"
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
