"""Headless Chromium for the graph view: run a page offline, see what it asked for, check that it drew."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path


def chromium(*args: str, profile: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run headless Chromium on a page; (the run, every URL the page itself asked for). Chromium's NetLog
    names each request's initiator: the page's carry its origin ("null" for a file), the browser's own
    background requests carry none ("not an origin")."""
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
    assert html.count('<g class="node"') == nodes and html.count('<g class="edge"') == edges
    shot_file = profile.with_name(profile.name + "-shot.png")
    shot, asked_again = chromium(f"--screenshot={shot_file}", url, profile=profile)
    assert shot.returncode == 0, shot.stderr.decode()[-2000:]
    colours = Image.open(shot_file).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 50  # not a blank page
    assert asked == asked_again == []  # no request left the page
    return html, {colour for _, colour in colours}
