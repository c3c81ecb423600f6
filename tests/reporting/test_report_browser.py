"""The HTML report opened in a real headless Chromium: every image decodes, the console stays clean,
and the page asks for nothing beyond its own file.

Talks to Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fd 3 in, fd 4
out, NUL-separated JSON), so no extra Python package and no network port is needed.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mobilekit.reporting import report


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run "
                                "scripts/setup.sh --test (installs Debian's chromium)")
TIMEOUT_S = 20.0


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, user_data_dir: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Move the child's ends out of the 0-4 range first, so the dup2 onto 3 and 4 cannot clobber.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 20)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 21)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire_pipes():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", "--mute-audio",
             f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4, high_r, high_w), preexec_fn=wire_pipes, start_new_session=True)
        os.close(high_r)
        os.close(high_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, deadline: float) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self, deadline: float | None = None) -> dict:
        deadline = deadline or time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise AssertionError("Chromium closed the debugging pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            os.write(self._to_browser, json.dumps({"id": 10_000, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=5)
        os.close(self._to_browser)
        os.close(self._from_browser)


def open_in_chromium(page: Path, tmp_path: Path) -> dict:
    browser = DevTools(tmp_path / "chromium-profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", time.monotonic() + TIMEOUT_S)
        images = browser.send("Runtime.evaluate", {
            "expression": "JSON.stringify(Array.from(document.images).map(i => ({alt: i.alt, "
                          "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})))",
            "returnByValue": True}, session=session)["result"]["value"]
        title = browser.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                             session=session)["result"]["value"]
        scripts = browser.send("Runtime.evaluate", {"expression": "document.scripts.length",
                                                    "returnByValue": True}, session=session)["result"]["value"]
        events = browser.events
    finally:
        browser.close()
    problems = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            problems.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            problems.append(f"exception: {details.get('text')} "
                            f"{details.get('exception', {}).get('description', '')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            problems.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    requests = [event["params"]["request"]["url"] for event in events
                if event.get("method") == "Network.requestWillBeSent"]
    return {"images": json.loads(images), "problems": problems, "requests": requests, "title": title,
            "scripts": scripts}


def test_html_report_opens_in_chromium_with_every_image_loaded(tmp_path, result_tree):
    output = tmp_path / "report.html"
    record = report([result_tree], output)
    seen = open_in_chromium(output, tmp_path)
    assert seen["problems"] == []
    assert len(seen["images"]) == len(record.images) >= 4
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    # Self-contained: the only thing fetched is the page itself (images are data: URIs).
    external = [url for url in seen["requests"] if not url.startswith(("data:", output.resolve().as_uri()))]
    assert external == []
    # The hostile model name stayed text: no script element made it into the page.
    assert seen["scripts"] == 0


def test_chromium_check_catches_a_broken_image(tmp_path, result_tree):
    """The check itself can fail: a page with a missing image and a script error is reported."""
    output = tmp_path / "report.html"
    report([result_tree], output)
    broken = tmp_path / "broken.html"
    broken.write_text(output.read_text(encoding="utf-8").replace(
        "</body>", '<img src="missing.png" alt="gone"><script>undefinedFunction()</script></body>'),
        encoding="utf-8")
    seen = open_in_chromium(broken, tmp_path)
    assert any(image["alt"] == "gone" and image["width"] == 0 for image in seen["images"])
    assert any("undefinedFunction" in problem for problem in seen["problems"]), seen["problems"]
    assert any("missing.png" in problem for problem in seen["problems"]), seen["problems"]
