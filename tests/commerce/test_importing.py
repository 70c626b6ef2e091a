"""The order import pipeline through the real job runner, on the database under test."""

import codecs
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from siyu.commerce import importing, imports, parsing
from siyu.commerce.upserting import write_orders
from siyu.connectors.commerce import Platform
from siyu.customers.identities import IdentityKind
from siyu.models import Customer, Identity, ImportRun, Job, Order, OrderItem, Product
from siyu.worker.runner import Runner
from siyu.workspace.principal import Principal
from tests.conftest import WorkspaceFixture
from tests.connectors.commerce.samples import JD, SAMPLES, TMALL, Sample

RunJobs = Callable[[], int]


@pytest.fixture
def parse_processes(monkeypatch: pytest.MonkeyPatch) -> list[parsing.ParseProcess]:
    """The parse processes the test's imports start."""
    started: list[parsing.ParseProcess] = []

    class Noted(parsing.ParseProcess):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(parsing, "ParseProcess", Noted)
    return started


@pytest.fixture(params=["parsed here", "parsed in a process"])
def parse_in(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    parse_processes: list[parsing.ParseProcess],
) -> Iterator[str]:
    """Run the test with the file parsed in the job's process, and again with it parsed in
    a process of its own (as large files are); no parse process outlives its import."""
    in_process = request.param == "parsed in a process"
    if in_process:
        monkeypatch.setattr(importing, "PARSE_PROCESS_MIN_ROWS", 0)
    yield str(request.param)
    assert bool(parse_processes) == in_process
    assert not any(p.running for p in parse_processes)


def start(
    db: Session,
    workspace: WorkspaceFixture,
    path: Path,
    *,
    platform: Platform | None = None,
    chunk_rows: int | None = None,
) -> int:
    principal = Principal.system(workspace.id)
    shown = imports.create_order_import(db, principal, path, filename=path.name, platform=platform)
    imports.start_import(db, principal, shown.run.id, chunk_rows=chunk_rows)
    db.commit()
    return shown.run.id


def run_of(db: Session, import_id: int) -> ImportRun:
    db.expire_all()
    run = db.get(ImportRun, import_id)
    assert run is not None
    return run


def orders_of(db: Session, workspace_id: int) -> dict[str, Order]:
    db.expire_all()
    rows = db.scalars(select(Order).where(Order.workspace_id == workspace_id))
    return {o.platform_order_id: o for o in rows}


def error_lines(run: ImportRun) -> list[str]:
    assert run.errors_path is not None
    return Path(run.errors_path).read_bytes().decode("utf-8-sig").splitlines()


EXPECTED_PAID = {
    "tmall": {"3210000000000001": 20900, "3210000000000002": 9900, "3210000000000003": 0},
    "jd": {"280001": 38700, "280002": 19900},
    "pdd": {"240301-123456789": 18400, "240302-987654321": 10500},
    "youzan": {"E20240305080000012345": 12800},
    "douyin": {"6900000000000001": 28800},
    "generic": {"S-1001": 8800},
}
EXPECTED_STATUS = {
    "3210000000000001": "completed",
    "3210000000000002": "refunded",
    "3210000000000003": "pending",
    "280001": "completed",
    "280002": "paid",
    "240301-123456789": "completed",
    "240302-987654321": "shipped",
    "E20240305080000012345": "completed",
    "6900000000000001": "completed",
    "S-1001": "completed",
}
EXPECTED_ITEMS = {"280001": 2, "6900000000000001": 2, "3210000000000001": 1, "S-1001": 1}


@pytest.mark.parametrize("kind", ["utf-8", "utf-8-sig", "gbk", "xlsx"])
@pytest.mark.parametrize("platform", sorted(SAMPLES))
def test_each_platform_export_imports_with_amounts_status_and_items(
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: RunJobs,
    tmp_path: Path,
    platform: str,
    kind: str,
) -> None:
    path = SAMPLES[platform].write(tmp_path, kind)

    import_id = start(db, workspace, path)
    run_jobs()

    run = run_of(db, import_id)
    assert run.platform == platform
    assert run.status == "succeeded", run.message
    assert (run.imported, run.updated, run.failed) == (len(EXPECTED_PAID[platform]), 0, 0)
    orders = orders_of(db, workspace.id)
    assert {k: o.paid_fen for k, o in orders.items()} == EXPECTED_PAID[platform]
    assert {k: o.status for k, o in orders.items()} == {
        k: EXPECTED_STATUS[k] for k in EXPECTED_PAID[platform]
    }
    assert all(o.import_run_id == import_id for o in orders.values())
    for order_id, count in EXPECTED_ITEMS.items():
        if order_id in orders:
            items = db.scalars(select(OrderItem).where(OrderItem.order_id == orders[order_id].id))
            assert len(list(items)) == count


def test_times_without_zone_are_shanghai_and_stored_in_utc(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path
) -> None:
    start(db, workspace, TMALL.write(tmp_path, "gbk"))
    run_jobs()

    order = orders_of(db, workspace.id)["3210000000000001"]
    assert order.ordered_at == datetime(2024, 3, 1, 12, 15, tzinfo=UTC)
    assert order.paid_at == datetime(2024, 3, 1, 12, 16, 30, tzinfo=UTC)


def test_buyer_id_and_unmasked_mobile_feed_oneid_but_masked_ones_do_not(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path
) -> None:
    start(db, workspace, TMALL.write(tmp_path, "utf-8"))
    run_jobs()

    orders = orders_of(db, workspace.id)
    zhang = orders["3210000000000001"].customer_id
    assert zhang is not None
    assert orders["3210000000000003"].customer_id == zhang
    assert orders["3210000000000002"].customer_id is None
    identities = {
        (i.kind, i.value)
        for i in db.scalars(select(Identity).where(Identity.workspace_id == workspace.id))
    }
    assert identities == {
        (IdentityKind.TAOBAO_BUYER_ID.value, "tb_zhangsan"),
        (IdentityKind.MOBILE.value, "+8613800138000"),
    }
    customer = db.get(Customer, zhang)
    assert customer is not None
    assert (customer.order_count, customer.total_paid_fen) == (1, 20900)
    assert customer.first_order_at == datetime(2024, 3, 1, 12, 15, tzinfo=UTC)


def test_products_are_kept_once_per_platform_id(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path
) -> None:
    start(db, workspace, JD.write(tmp_path, "utf-8"))
    run_jobs()

    products = db.scalars(select(Product).where(Product.workspace_id == workspace.id)).all()
    assert sorted((p.external_id, p.name, p.price_fen) for p in products) == [
        ("100001", "山茶花精华", 19900),
        ("100002", "山茶花面霜", 9900),
    ]


def test_bad_rows_are_reported_by_row_and_column_while_good_rows_land(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path, parse_in: str
) -> None:
    rows = [list(r) for r in TMALL.rows]
    rows[1][6] = "九十九"  # 买家实际支付金额 on spreadsheet row 3
    rows[2][12] = ""  # 订单创建时间 on row 4
    path = Sample("tmall", TMALL.headers, rows).write(tmp_path, "utf-8")

    import_id = start(db, workspace, path)
    run_jobs()

    run = run_of(db, import_id)
    assert run.status == "succeeded"
    assert (run.imported, run.failed) == (1, 2)
    assert set(orders_of(db, workspace.id)) == {"3210000000000001"}
    lines = error_lines(run)
    assert lines[0] == "row,column,reason"
    assert lines[1].startswith("3,买家实际支付金额,not an amount")
    assert lines[2] == "4,订单创建时间,order time is empty"
    assert Path(run.errors_path or "").read_bytes().startswith(codecs.BOM_UTF8)


def test_an_order_with_one_bad_item_row_is_not_half_applied(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path, parse_in: str
) -> None:
    rows = [list(r) for r in JD.rows]
    rows[1][3] = "两"  # 订购数量 of the second item of order 280001
    path = Sample("jd", JD.headers, rows).write(tmp_path, "utf-8")

    import_id = start(db, workspace, path)
    run_jobs()

    assert set(orders_of(db, workspace.id)) == {"280002"}
    assert db.scalar(select(func.count()).select_from(OrderItem)) == 1
    run = run_of(db, import_id)
    assert run.failed == 2
    lines = error_lines(run)
    assert len(lines) == 3
    assert lines[1].startswith("3,订购数量,")
    assert lines[2] == "2,订单号,not imported: row 3 of this order has errors"


def test_importing_the_same_file_again_updates_and_creates_no_duplicates(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path, parse_in: str
) -> None:
    path = JD.write(tmp_path, "utf-8")
    start(db, workspace, path)
    run_jobs()
    first = {k: o.id for k, o in orders_of(db, workspace.id).items()}

    again = start(db, workspace, path)
    run_jobs()

    run = run_of(db, again)
    assert (run.imported, run.updated, run.failed) == (0, 2, 0)
    assert {k: o.id for k, o in orders_of(db, workspace.id).items()} == first
    assert db.scalar(select(func.count()).select_from(OrderItem)) == 3
    assert db.scalar(select(func.count()).select_from(Product)) == 2


def test_a_changed_status_on_reimport_is_applied_and_stats_follow(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path
) -> None:
    start(db, workspace, TMALL.write(tmp_path, "utf-8"))
    run_jobs()
    rows = [list(r) for r in TMALL.rows]
    rows[2][7] = "交易成功"  # the pending order got paid
    rows[2][6] = "59.90"
    (tmp_path / "later").mkdir()
    start(db, workspace, Sample("tmall", TMALL.headers, rows).write(tmp_path / "later", "utf-8"))
    run_jobs()

    order = orders_of(db, workspace.id)["3210000000000003"]
    assert order.status == "completed"
    customer = db.get(Customer, order.customer_id)
    assert customer is not None
    assert (customer.order_count, customer.total_paid_fen) == (2, 20900 + 5990)


class Crash(BaseException):
    """A worker process dying mid-job: not an error the runner could catch and record."""


def test_a_crashed_import_resumes_after_its_last_committed_chunk(
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: RunJobs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parse_in: str,
    parse_processes: list[parsing.ParseProcess],
) -> None:
    rows = [list(TMALL.rows[0]) for _ in range(10)]
    for i, row in enumerate(rows):
        row[0] = f"39{i:04d}"
    rows[6][6] = "oops"  # a bad row in the chunk that crashes the first time
    path = Sample("tmall", TMALL.headers, rows).write(tmp_path, "utf-8")
    import_id = start(db, workspace, path, chunk_rows=4)
    calls = []

    def crash_on_second_chunk(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise Crash
        return write_orders(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("siyu.commerce.importing.write_orders", crash_on_second_chunk)
    with pytest.raises(Crash):
        Runner(engine, lease_seconds=30).run_until_idle()
    assert not any(p.running for p in parse_processes)

    run = run_of(db, import_id)
    assert (run.status, run.processed_rows, run.imported) == ("running", 4, 4)
    assert len(orders_of(db, workspace.id)) == 4
    # The lease of the dead worker runs out; another worker picks the job up.
    db.execute(update(Job).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    run_jobs()

    run = run_of(db, import_id)
    assert run.status == "succeeded"
    assert (run.imported, run.updated, run.failed, run.processed_rows) == (9, 0, 1, 10)
    assert len(orders_of(db, workspace.id)) == 9
    lines = error_lines(run)
    assert len(lines) == 2
    assert lines[1].startswith("8,买家实际支付金额,")
    # The buyer's stats count the orders of the chunk committed before the crash too.
    (customer_id,) = {o.customer_id for o in orders_of(db, workspace.id).values()}
    customer = db.get(Customer, customer_id)
    assert customer is not None
    assert (customer.order_count, customer.total_paid_fen) == (9, 9 * 20900)
    assert customer.last_order_at == datetime(2024, 3, 1, 12, 15, tzinfo=UTC)


def test_a_file_that_turns_unreadable_midway_fails_the_import_keeping_earlier_chunks(
    db: Session, workspace: WorkspaceFixture, run_jobs: RunJobs, tmp_path: Path, parse_in: str
) -> None:
    rows = [list(TMALL.rows[0]) for _ in range(400)]
    for i, row in enumerate(rows):
        row[0] = f"49{i:04d}"
    path = Sample("tmall", TMALL.headers, rows).write(tmp_path, "utf-8")
    import_id = start(db, workspace, path, chunk_rows=50)
    with path.open("ab") as handle:
        handle.write(b"\xff\xfe broken bytes\r\n")

    run_jobs()

    run = run_of(db, import_id)
    assert run.status == "failed"
    assert run.message is not None
    assert "not valid utf-8" in run.message
    # Chunks read before the broken bytes stay imported, and the counts say so.
    assert 0 < run.imported < 400
    assert run.imported == run.processed_rows == len(orders_of(db, workspace.id))
    # The stats of the buyer count exactly the orders that stayed.
    (customer_id,) = {o.customer_id for o in orders_of(db, workspace.id).values()}
    customer = db.get(Customer, customer_id)
    assert customer is not None
    assert (customer.order_count, customer.total_paid_fen) == (run.imported, run.imported * 20900)


def test_a_large_file_is_parsed_in_a_process_of_its_own(
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: RunJobs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parse_processes: list[parsing.ParseProcess],
) -> None:
    rows = [list(TMALL.rows[0]) for _ in range(30)]
    for i, row in enumerate(rows):
        row[0] = f"59{i:04d}"
    path = Sample("tmall", TMALL.headers, rows).write(tmp_path, "gbk")
    monkeypatch.setattr(importing, "PARSE_PROCESS_MIN_ROWS", 30)
    import_id = start(db, workspace, path, chunk_rows=8)
    run_jobs()

    run = run_of(db, import_id)
    assert (run.status, run.imported, run.processed_rows) == ("succeeded", 30, 30)
    assert len(orders_of(db, workspace.id)) == 30
    assert len(parse_processes) == 1
    assert not parse_processes[0].running
