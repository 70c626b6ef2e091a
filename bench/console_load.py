"""Time until the console's customers page shows rows, in Debian's Chromium.

Serves the built console with `siyu serve` on a generated dataset, signs in as the
dataset's admin, then opens /customers in a fresh browser context per run (cold cache)
and measures navigation start → first customer row visible. Prints the median and p95.
Needs `make console` and `bench/generate.py` for the size and database.
"""

import argparse
import time

import httpx
from playwright.sync_api import sync_playwright

from bench.common import (
    DEFAULT_DATABASE_URL,
    Dataset,
    database_label,
    free_port,
    median,
    percentile,
    start_server,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--size", default="S", choices=["XS", "S", "M"])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    dataset = Dataset.load(args.database_url, args.size)
    port = free_port()
    server = start_server(args.database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": f"bench-{args.size.lower()}@siyu.local", "password": "bench-password"},
        )
        login.raise_for_status()
        token = login.cookies["siyu_session"]
        timings: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                context.add_cookies([{"name": "siyu_session", "value": token, "url": base}])
                page = context.new_page()
                started = time.perf_counter()
                page.goto(f"{base}/customers")
                page.locator("[data-testid=customers-table] tbody tr").first.wait_for()
                timings.append((time.perf_counter() - started) * 1000)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(
        f"customers page on {database_label(args.database_url)}, size {args.size} "
        f"({dataset.customers:,} customers), cold browser context, {args.runs} runs: "
        f"first rows visible after p50 {median(timings):.0f} ms, "
        f"p95 {percentile(timings, 95):.0f} ms"
    )


if __name__ == "__main__":
    main()
