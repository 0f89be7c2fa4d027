"""A tiny headless-Chromium driver over the DevTools protocol on a pipe, shared by the browser tests.

Chromium started with ``--remote-debugging-pipe`` reads JSON commands from fd 3 and writes
replies and events to fd 4, each message ended by a NUL byte. Enough to open a page, collect
console errors, evaluate JavaScript, click, type, download and take a screenshot, without
websockets, selenium, chromedriver or a downloaded browser.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, exe: str, *, width: int = 1280, height: int = 900):
        self._profile = tempfile.mkdtemp(prefix="cleantake-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # runs in the child between fork and exec: put the pipe ends on fds 3 and 4
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)  # a < b, both above the originals' uses
            os.dup2(a, 3)
            os.dup2(b, 4)
            # if a, b already were 3, 4 the dup2 calls did nothing and the fds are still close-on-exec
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self._log = open(Path(self._profile) / "stderr.log", "wb")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child_fds, close_fds=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session = None
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        except (OSError, EOFError, TimeoutError) as exc:
            log = (Path(self._profile) / "stderr.log").read_text(errors="replace")[-2000:]
            self.close()
            raise RuntimeError(f"chromium did not start ({exc!r}); its stderr ends with:\n{log}") from exc
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -- protocol
    def _recv(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, *, timeout: float = 30.0) -> dict:
        """Send a command to the page (``Target.*`` and ``Browser.*`` go to the browser) and wait for its reply."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._recv(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, *, timeout: float = 30.0) -> dict:
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline)
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)

    # -- conveniences
    def open(self, path: Path, *, timeout: float = 60.0) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": Path(path).resolve().as_uri()})
        self.wait_for("Page.loadEventFired", timeout=timeout)

    def evaluate(self, expression: str, *, timeout: float = 60.0):
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                             "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JavaScript failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors seen since :meth:`open`."""
        self.call("Runtime.evaluate", {"expression": "0"})  # flush pending events
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif ev["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + str(p["exceptionDetails"].get("exception", p["exceptionDetails"])))
            elif ev["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def center_of(self, selector: str) -> tuple[float, float]:
        """Viewport coordinates of the centre of the first element matching ``selector``, scrolled into view."""
        r = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const b = e.getBoundingClientRect();"
            " return [b.left + b.width / 2, b.top + b.height / 2]; })()")
        if r is None:
            raise LookupError(f"no element matches {selector!r}")
        return float(r[0]), float(r[1])

    def click(self, selector: str) -> None:
        """A real left click (mouse pressed and released) on the element matching ``selector``."""
        x, y = self.center_of(selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def type_into(self, selector: str, text: str) -> None:
        """Click into a field, select what it holds, type ``text`` over it and press Tab (which commits it)."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        self.call("Input.insertText", {"text": text})
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": "Tab", "code": "Tab",
                                                 "windowsVirtualKeyCode": 9})

    def download_into(self, folder: Path) -> None:
        """Save downloads into ``folder`` under their suggested names and report their progress."""
        self.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(Path(folder).resolve()),
                                                  "eventsEnabled": True})

    def wait_download(self, *, timeout: float = 30.0) -> str:
        """Wait for a download started after :meth:`download_into` to finish; return its suggested file name."""
        begin = self.wait_for("Browser.downloadWillBegin", timeout=timeout)["params"]
        deadline = time.monotonic() + timeout
        while True:
            p = self.wait_for("Browser.downloadProgress", timeout=max(0.1, deadline - time.monotonic()))["params"]
            if p["guid"] == begin["guid"] and p["state"] == "completed":
                return begin["suggestedFilename"]
            if p["guid"] == begin["guid"] and p["state"] == "canceled":
                raise RuntimeError(f"download of {begin['suggestedFilename']!r} was cancelled")

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            m = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": m["width"], "height": m["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", params, timeout=60)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

