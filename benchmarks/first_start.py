"""First start as a new user meets it: how long from ``make run`` until the page shows curves and gains.

Starts ``dnet up`` (what ``make run`` runs) on an empty var dir, on free ports, with the user's environment
(``DNET_*`` removed); on a first start it writes and registers the demo dataset and queues the two demo runs
(a CE baseline, then Difficulty-Net against it; ``stack.demo_runs``). Then, like a new user, a headless
Chromium opens the *Runs* landing page as soon as the banner prints the URLs, waits for both demo runs to be
listed, opens the Difficulty-Net run from the list and waits for its difficulty curves to have an epoch and
its gains-over-the-baseline chart to have data. Meanwhile the API is polled every 0.5 s for when each run
starts and finishes its first epoch. Every time is counted from the ``dnet up`` process start.

    .venv/bin/python benchmarks/first_start.py           # → benchmarks/results/first-start.md
    .venv/bin/python benchmarks/first_start.py --out var/bench/first-start.md
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import _harness as h  # noqa: E402
import httpx  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from stack.demo_runs import DEMO_RUN_COMMON  # noqa: E402
from stack.redis_server import free_port  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "first-start.md"
BANNER_END = "Press Ctrl-C to stop."  # the banner's last line: the URLs are printed, the demo runs queued
CHROMIUM = Path(os.environ.get("DNET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
TIMEOUT_S = 1200.0


@dataclass
class Timeline:
    """Seconds since the ``dnet up`` process started, at which each milestone was first seen."""

    started: float = field(default_factory=time.monotonic)
    seen: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, milestone: str) -> None:
        with self.lock:
            self.seen.setdefault(milestone, time.monotonic() - self.started)

    def get(self, milestone: str) -> float | None:
        with self.lock:
            return self.seen.get(milestone)


def follow(process: subprocess.Popen[str], lines: list[str], timeline: Timeline) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if BANNER_END in line:
            timeline.mark("banner")


def watch_api(api_url: str, timeline: Timeline, stop: threading.Event) -> None:
    """When each demo run starts, finishes its first epoch and ends, as the API reports it."""
    with httpx.Client(base_url=api_url, timeout=5) as client:
        while not stop.wait(0.5):
            try:
                runs = client.get("/api/runs").json()["runs"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            for run in runs:
                method = "dnet" if str(run["config"]["method"]).startswith("dnet") else "ce"
                timeline.mark(f"{method} queued")
                if run["status"] != "queued":
                    timeline.mark(f"{method} started")
                if run["epoch"] >= 1:
                    timeline.mark(f"{method} epoch 1")
                if run["status"] in ("succeeded", "failed", "cancelled"):
                    timeline.mark(f"{method} {run['status']}")


def wait_for(page: Page, script: str, timeout_s: float) -> None:
    page.wait_for_function(script, timeout=timeout_s * 1000, polling=250)


def browse_like_a_new_user(dashboard_url: str, timeline: Timeline, deadline: float) -> None:
    """The Runs landing page, then the Difficulty-Net run opened from its list, until curves and gains."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        page.goto(dashboard_url)
        timeline.mark("landing page opened")
        wait_for(page, "() => document.querySelectorAll('#runs-table tbody tr').length >= 2", 120)
        timeline.mark("landing page lists the demo runs")
        page.locator("#runs-table tbody tr", has_text="dnet").get_by_role("link", name="Open").click()
        wait_for(
            page,
            "() => { const el = document.querySelector('#run-curves .js-plotly-plot');"
            " return !!(el && el.data && el.data.length && el.data[0].x && el.data[0].x.length >= 1); }",
            deadline - time.monotonic(),
        )
        timeline.mark("run page: curves with an epoch")
        wait_for(
            page,
            "() => { const el = document.querySelector('#run-gains .js-plotly-plot');"
            " return !!(el && el.data && el.data.some(t => (t.x || []).length > 0)); }",
            deadline - time.monotonic(),
        )
        timeline.mark("run page: gains with data")
        browser.close()


def start_stack(var_dir: Path, api_port: int, dashboard_port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNET_")}
    env["COLUMNS"] = "200"
    script = Path(sys.executable).parent / "dnet"
    return subprocess.Popen(
        [str(script), "up", "--var-dir", str(var_dir), "--api-port", str(api_port),
         "--dashboard-port", str(dashboard_port)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def measure() -> tuple[Timeline, str]:
    with tempfile.TemporaryDirectory(prefix="dnet-first-start-") as home:
        api_port, dashboard_port = free_port(), free_port()
        timeline = Timeline()
        process = start_stack(Path(home) / "var", api_port, dashboard_port)
        lines: list[str] = []
        threading.Thread(target=follow, args=(process, lines, timeline), daemon=True).start()
        stop = threading.Event()
        api = threading.Thread(
            target=watch_api, args=(f"http://127.0.0.1:{api_port}", timeline, stop), daemon=True
        )
        deadline = time.monotonic() + TIMEOUT_S
        try:
            while timeline.get("banner") is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dnet up did not come up:\n" + "\n".join(lines[-40:]))
                time.sleep(0.1)
            api.start()
            browse_like_a_new_user(f"http://127.0.0.1:{dashboard_port}", timeline, deadline)
            while timeline.get("dnet succeeded") is None and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            stop.set()
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        workers = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Workers:")), "?")
        return timeline, workers


MILESTONES = (
    ("banner", "`dnet up` printed its URLs (stack up, demo dataset registered, demo runs queued)"),
    ("landing page opened", "Runs landing page loaded in Chromium"),
    ("landing page lists the demo runs", "…and lists both demo runs"),
    ("ce started", "CE baseline started on the worker"),
    ("ce epoch 1", "CE baseline: first epoch"),
    ("ce succeeded", f"CE baseline finished ({DEMO_RUN_COMMON['epochs']} epochs)"),
    ("dnet started", "Difficulty-Net run started"),
    ("dnet epoch 1", "Difficulty-Net run: first epoch (API)"),
    ("run page: curves with an epoch", "Difficulty-Net run page: difficulty curves have an epoch"),
    ("run page: gains with data", "Difficulty-Net run page: per-class gains over the baseline shown"),
    ("dnet succeeded", f"Difficulty-Net run finished ({DEMO_RUN_COMMON['epochs']} epochs)"),
)


def render(timeline: Timeline, workers: str, load: tuple[str, str]) -> str:
    opened = timeline.get("landing page opened") or 0.0
    rows = []
    for key, label in MILESTONES:
        at = timeline.get(key)
        since_page = "–" if at is None or key in ("banner", "landing page opened") else f"{at - opened:.1f} s"
        rows.append(f"| {label} | {'not reached' if at is None else f'{at:.1f} s'} | {since_page} |")
    demo = ", ".join(f"{k} {v}" for k, v in DEMO_RUN_COMMON.items())
    return "\n".join(
        [
            "# First start: from `make run` to curves and gains",
            "",
            "`dnet up` (what `make run` runs) on an empty var dir: the demo dataset is written and "
            "registered "
            "and the two demo runs are queued (CE baseline, then Difficulty-Net against it: "
            f"{demo}). A headless Chromium opens the *Runs* landing page when the banner prints the URLs, "
            "waits for the demo runs in the list, opens the Difficulty-Net run and waits for its curves "
            "and gains. Times from the `dnet up` process start; the last column from the landing page "
            "being opened.",
            "",
            f"- machine: {h.machine()}",
            f"- workers: {workers}",
            f"- load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} (a shared machine: other "
            "processes ran during the measurement)",
            f"- commit {h.CODE_VERSION}, {h.now_utc()}",
            f"- command: `{h.command_line()}`",
            "",
            "| milestone | since `dnet up` | since the page opened |",
            "|---|---:|---:|",
            *rows,
            "",
        ]
    )


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown to write")
    args = parser.parse_args()
    load_start = load_average()
    timeline, workers = measure()
    text = render(timeline, workers, (load_start, load_average()))
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
