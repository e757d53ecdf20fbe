"""app/page.py: the HTML, and the page in a real browser (headless Chromium over the
DevTools protocol): the GIF is shown, the button fetches another; a screenshot is kept
in artifacts/app-page.png."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

from app import page
from app.db import Gif
from tests.support.app_service import ROOT, Service, app_env, prepare

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


def test_render_escapes_the_title():
    html = page.render(Gif(7, '<script>alert("x")</script>', 64, 48)).decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert '<img id="gif" src="/gifs/7"' in html
    assert 'width="64" height="48"' in html


def test_render_without_a_gif_says_why():
    html = page.render(None, "no GIFs loaded yet").decode()
    assert "No GIF right now" in html and "no GIFs loaded yet" in html


def test_csp_hashes_match_the_inline_style_and_script():
    html = page.render(Gif(1, "t", 1, 1)).decode()
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)[1]
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in page.CONTENT_SECURITY_POLICY


class Chromium:
    """Headless Chromium with a fresh profile, driven over the DevTools protocol."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        "--window-size=640,400",
    )

    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="gifstack-chromium-"))
        self.process = subprocess.Popen(
            [CHROMIUM, *self.FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            target = next(t for t in json.load(answer) if t["type"] == "page")
        self.socket = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=10, suppress_origin=True
        )
        self._ids = itertools.count(1)

    def call(self, method: str, **params) -> dict:
        call_id = next(self._ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 10):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


SHOWN = (
    "(() => { const img = document.getElementById('gif');"
    " return img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null; })()"
)


def test_page_shows_a_gif_in_chromium_and_the_button_fetches_another(database_url):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI (install the Debian package chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    prepare(database_url)
    with Service(app_env(DATABASE_URL=database_url)) as service:
        browser = Chromium()
        try:
            browser.call("Page.enable")
            browser.call("Page.navigate", url=service.url + "/")
            first = browser.wait_for(SHOWN)
            assert re.fullmatch(r"/gifs/\d+", first)
            assert browser.evaluate("document.getElementById('gif').naturalWidth") == 64
            title = browser.evaluate("document.getElementById('title').textContent")
            assert title and title != "No GIF right now"

            for _ in range(20):  # 1 in 14 that a click shows the same GIF again
                browser.evaluate("document.getElementById('next').click()")
                time.sleep(0.2)
                second = browser.wait_for(SHOWN)
                if second != first:
                    break
            assert second != first, "the button shows another GIF"
            assert browser.evaluate("document.getElementById('status').textContent") == ""

            shot = browser.call("Page.captureScreenshot", format="png")["data"]
            ARTIFACTS.mkdir(exist_ok=True)
            png = base64.b64decode(shot)
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            (ARTIFACTS / "app-page.png").write_bytes(png)
        finally:
            browser.close()
    # The browser fetched the page, the images and /gif (the button) from the service.
    paths = [line.get("path", "") for line in service.logs() if line.get("msg") == "request"]
    assert "/" in paths and "/gif" in paths
    assert any(path.startswith("/gifs/") for path in paths)
