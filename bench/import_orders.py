"""Order import from a Tmall-format CSV (default 1M rows): rows/s through the real pipeline.

    .venv/bin/python -m bench.import_orders [--database-url URL] [--runs 3] [--rows 1000000]

The CSV is a 淘宝/天猫 订单报表 as 千牛 exports it (GB18030, one row per order, the usual
Chinese headers), generated deterministically under bench/data/ and reused while it
exists. About 250k distinct buyers order several times each; 30% of rows carry an
unmasked mobile, the rest `138****8000` as Tmall masks them.

Each run makes a fresh workspace, registers the file as an order import
(`commerce.imports.create_order_import`, platform detected from the headers), queues it
(`start_import`) and runs the queued job to the end with the real job runner — parsing
(in a process of its own for large files), OneID resolution of every buyer, order and
item upserts, customer stats, chunked commits. rows/s = data rows / wall time of the job.
Target: >= 50,000 rows/s. It also prints the CPU seconds (and µs per row) the job's
process (the writer) and its parse process used, and the load average after the run: on
a shared machine the CPU figures vary less than the wall time.
"""

import argparse
import csv
import os
import random
import resource
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

import siyu.commerce.jobs  # noqa: F401 - registers the import job
from bench.common import DATA_DIR, database_label, ensure_database, median
from siyu.commerce import imports
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.models import Customer, ImportRun, Order
from siyu.worker.runner import Runner
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

HEADERS = [
    "订单编号",
    "买家会员名",
    "买家应付货款",
    "买家应付邮费",
    "买家实际支付金额",
    "订单状态",
    "订单创建时间",
    "订单付款时间",
    "退款金额",
    "收货人姓名",
    "收货地址",
    "联系手机",
    "宝贝标题",
    "商家编码",
    "宝贝总数量",
    "店铺名称",
]
STATUSES = (("交易成功", 86), ("卖家已发货，等待买家确认", 6), ("交易关闭", 3),
            ("付款以后用户退款成功，交易自动关闭", 5))  # fmt: skip
START = datetime(2023, 11, 1)  # noqa: DTZ001 - Tmall exports local (Asia/Shanghai) times


def tmall_csv(rows: int, seed: int = 11) -> Path:
    path = DATA_DIR / f"tmall-orders-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(seed)
    buyers = max(1, rows // 4)
    status_names = [s for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for n in range(rows):
            buyer = rng.randrange(buyers)
            product = rng.choice(data.PRODUCTS)
            quantity = 1 if rng.random() < 0.85 else 2
            goods = product.price_fen * quantity
            shipping = 0 if goods >= 9900 else 800
            paid = goods + shipping - (goods // 10 if rng.random() < 0.3 else 0)
            status = rng.choices(status_names, status_weights)[0]
            ordered = START + timedelta(seconds=rng.randrange(3 * 365 * 86400))
            suffix = f"{(buyer * 7919 + 17) % 100_000_000:08d}"
            prefix = data.MOBILE_PREFIXES[buyer % 10]
            mobile = f"{prefix}{suffix}" if buyer % 10 < 3 else f"{prefix}****{suffix[-4:]}"
            province, city, _ = data.REGIONS[buyer % len(data.REGIONS)]
            writer.writerow(
                [
                    f"{3_000_000_000_000_000 + n * 7}",
                    f"tb_buyer_{buyer:07d}",
                    f"{goods / 100:.2f}",
                    f"{shipping / 100:.2f}",
                    f"{paid / 100:.2f}",
                    status,
                    ordered.strftime("%Y-%m-%d %H:%M:%S"),
                    (ordered + timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S"),
                    f"{paid / 100:.2f}" if status.startswith("付款以后") else "0.00",
                    f"买家{buyer % 1000:03d}",
                    f"{province} {city} 某区某路{buyer % 300}号",
                    mobile,
                    product.name,
                    product.sku,
                    quantity,
                    "山茶集官方旗舰店",
                ]
            )
    tmp.rename(path)
    return path


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_once(url: str, path: Path) -> tuple[float, int, dict[str, int], tuple[float, float]]:
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        slug = f"import-{uuid.uuid4().hex[:10]}"
        workspace = workspace_service.create_workspace(session, slug=slug, name=slug)
        principal = Principal.system(workspace.id)
        shown = imports.create_order_import(session, principal, path, filename=path.name)
        if shown.run.platform != "tmall":
            msg = f"the file was not recognised as a Tmall export ({shown.run.platform})"
            raise SystemExit(msg)
        imports.start_import(session, principal, shown.run.id)
        workspace_id, run_id = workspace.id, shown.run.id
    runner = Runner(engine, lease_seconds=3600)
    writer, parser = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    runner.run_until_idle()
    elapsed = time.perf_counter() - started
    writer = cpu_seconds(resource.RUSAGE_SELF) - writer
    parser = cpu_seconds(resource.RUSAGE_CHILDREN) - parser
    with unit_of_work(engine) as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        if run.status != "succeeded":
            msg = f"import {run.status}: {run.message}"
            raise SystemExit(msg)
        counts = {
            "imported": run.imported,
            "failed": run.failed,
            "orders": session.scalar(
                select(func.count()).select_from(Order).where(Order.workspace_id == workspace_id)
            )
            or 0,
            "customers": session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.workspace_id == workspace_id, Customer.merged_into_id.is_(None))
            )
            or 0,
        }
        rows = run.processed_rows
    engine.dispose()
    return elapsed, rows, counts, (writer, parser)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=f"sqlite:///{DATA_DIR / 'import.db'}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database(args.database_url)
    engine = build_engine(args.database_url)
    migrate.upgrade(engine)
    engine.dispose()
    generated = time.perf_counter()
    path = tmall_csv(args.rows)
    print(
        f"order import on {database_label(args.database_url)}: {path.name} "
        f"({path.stat().st_size / 1e6:,.0f} MB, ready in {time.perf_counter() - generated:.1f} s)"
    )
    rates = []
    for run in range(args.runs):
        elapsed, rows, counts, (writer_cpu, parser_cpu) = run_once(args.database_url, path)
        rates.append(rows / elapsed)
        print(
            f"  run {run + 1}: {rows:,} rows in {elapsed:.1f} s = {rates[-1]:,.0f} rows/s "
            f"({counts['orders']:,} orders, {counts['customers']:,} customers, "
            f"{counts['failed']:,} failed rows; CPU: writer {writer_cpu:.1f} s = "
            f"{writer_cpu / rows * 1e6:.0f} µs/row, parser {parser_cpu:.1f} s = "
            f"{parser_cpu / rows * 1e6:.0f} µs/row; load {os.getloadavg()[0]:.1f})"
        )
    print(f"median over {args.runs} runs: {median(rates):,.0f} rows/s (target 50,000)")


if __name__ == "__main__":
    main()
