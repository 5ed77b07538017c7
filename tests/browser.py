"""Headless Chromium for the graph view: run a page offline, see what it asked for, check that it drew.

Nothing leaves the machine: every request Chromium makes goes to a local proxy that refuses it and writes
down what was asked, so a page that tries to fetch is seen trying, and nothing reaches the network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that answers every request 403 and keeps its target (a URL, or
    ``host:port`` for an https tunnel)."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def refuse(self) -> None:
                proxy.asked.append(self.path)
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = refuse

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def chromium(*args: str, profile: Path, proxy: RefusingProxy | None = None
             ) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run headless Chromium on a page, every request sent to a refusing local proxy; (the run, every URL
    the page itself asked for). Chromium's NetLog names each request's initiator: the page's carry its
    origin ("null" for a file), the browser's own background requests carry none ("not an origin")."""
    own = proxy is None
    proxy = proxy or RefusingProxy()
    try:
        return _chromium(args, profile, proxy)
    finally:
        if own:
            proxy.close()


def _chromium(args: tuple[str, ...], profile: Path, proxy: RefusingProxy
              ) -> tuple[subprocess.CompletedProcess, list[str]]:
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is missing: make test installs it (apt-get install chromium)"
    shutil.rmtree(profile, ignore_errors=True)
    netlog = profile.with_suffix(".netlog.json")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--log-net-log={netlog}",
        f"--proxy-server=http://{proxy.address}",
        "--proxy-bypass-list=<-loopback>",  # the proxy takes localhost's requests too
        "--window-size=1200,800",
        "--virtual-time-budget=10000",
    ]
    run = subprocess.run([binary, *flags, *args], capture_output=True, timeout=120)
    log = json.loads(netlog.read_text())
    types = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    asked = [
        event["params"]["url"]
        for event in log["events"]
        if types.get(event["type"]) == "URL_REQUEST_START_JOB"
        and event.get("params", {}).get("url")
        and event["params"].get("initiator") not in (None, "not an origin")
        and not event["params"]["url"].startswith("file:")
    ]
    return run, asked


def view_renders(page: Path, nodes: int, edges: int, profile: Path) -> tuple[str, set[tuple[int, int, int]]]:
    """`kgc graph show`'s page renders offline: its script ran to the end with every node and edge drawn,
    the screenshot is not blank, and the page asked for nothing. Returns the rendered DOM and the colours
    of the screenshot, for checks of a particular graph."""
    from PIL import Image

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.read_text(encoding="utf-8"))
    url = page.as_uri()
    dom, asked = chromium("--dump-dom", url, profile=profile)
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    html = dom.stdout.decode()
    assert f'data-rendered="{nodes}"' in html  # the script ran to its end
    drawn_nodes = html.count('<li class="node"') + html.count('<li class="node ungrounded"')
    drawn_edges = html.count('<li class="edge"') + html.count('<li class="edge ungrounded"')
    assert (drawn_nodes, drawn_edges) == (nodes, edges)
    shot_file = profile.with_name(profile.name + "-shot.png")
    shot, asked_again = chromium(f"--screenshot={shot_file}", url, profile=profile)
    assert shot.returncode == 0, shot.stderr.decode()[-2000:]
    colours = Image.open(shot_file).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 50  # not a blank page
    assert asked == asked_again == []  # no request left the page
    return html, {colour for _, colour in colours}
