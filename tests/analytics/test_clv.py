"""CLV: parameters recovered on the CDNOW data as published, and a workspace fit end to end."""

import csv
import importlib.util
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.analytics import clv_fit
from siyu.analytics.clv import BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma
from siyu.analytics.clv_errors import FitError
from siyu.db.session import unit_of_work
from siyu.models import Customer, CustomerFeature, Order
from tests.conftest import WorkspaceFixture, impatient_writer

RunJobs = Callable[[], int]


def _cdnow() -> dict[str, np.ndarray]:
    """The CDNOW summary (2,357 customers, 39-week calibration) shipped in `lifetimes`,
    read from its data file without importing the package."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None
    assert spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets"
    with (path / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("x", "t_x", "T", "zbar")}


def test_bgnbd_recovers_the_published_cdnow_parameters() -> None:
    data = _cdnow()
    assert len(data["x"]) == 2357

    fitted = fit_bgnbd(data["x"], data["t_x"], data["T"])

    # Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426
    assert fitted.r == pytest.approx(0.243, abs=0.001)
    assert fitted.alpha == pytest.approx(4.414, abs=0.01)
    assert fitted.a == pytest.approx(0.793, abs=0.002)
    assert fitted.b == pytest.approx(2.426, abs=0.01)


def test_gamma_gamma_recovers_the_published_cdnow_parameters() -> None:
    data = _cdnow()

    fitted = fit_gamma_gamma(data["x"], data["zbar"])

    # Fader, Hardie & Lee (2005), RFM and CLV: p = 6.25, q = 3.74, γ = 15.44
    assert fitted.p == pytest.approx(6.25, abs=0.01)
    assert fitted.q == pytest.approx(3.74, abs=0.01)
    assert fitted.gamma == pytest.approx(15.44, abs=0.02)


def test_conditional_expectations_match_the_paper() -> None:
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    x, t_x, t = np.array([2.0]), np.array([30.43]), np.array([38.86])

    # The paper's worked example: this customer is expected to buy 1.226 times in 39 weeks.
    assert model.expected_purchases(39, x, t_x, t)[0] == pytest.approx(1.226, abs=0.001)
    assert 0 < model.p_alive(x, t_x, t)[0] < 1
    assert model.p_alive(np.array([0.0]), np.array([0.0]), t)[0] == 1.0
    spend = GammaGamma(p=6.25, q=3.74, gamma=15.44)
    assert spend.expected_spend(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(
        6.25 * 15.44 / 2.74
    )


def test_too_few_repeat_buyers_cannot_be_fitted() -> None:
    with pytest.raises(FitError):
        fit_bgnbd(np.zeros(30), np.zeros(30), np.full(30, 10.0))


def _history(engine: Engine, workspace_id: int, customers: int) -> None:
    rng = random.Random(5)
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        for n in range(customers):
            customer = Customer(workspace_id=workspace_id, name=f"客户{n}")
            session.add(customer)
            session.flush()
            start = rng.randint(60, 700)
            rate = rng.choice([0.0, 0.01, 0.02, 0.05])
            day = start
            k = 0
            while day > 0:
                session.add(
                    Order(
                        workspace_id=workspace_id,
                        customer_id=customer.id,
                        platform="tmall",
                        platform_order_id=f"{n}-{k}",
                        status="completed",
                        paid_fen=rng.randint(5_000, 50_000),
                        ordered_at=now - timedelta(days=day),
                    )
                )
                k += 1
                if rate == 0:
                    break
                day -= max(1, int(rng.expovariate(rate)))


def test_a_workspace_fit_writes_values_and_reports_quality_against_the_holdout(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, run_jobs: RunJobs
) -> None:
    _history(engine, workspace.id, 300)

    queued = api.post("/api/v1/analytics/clv/fit", json={"holdout_days": 90})
    assert queued.status_code == 202
    run_jobs()

    found = api.get("/api/v1/analytics/clv").json()
    model = found["model"]
    assert model["status"] == "ready"
    assert set(model["params"]) >= {"r", "alpha", "a", "b", "p", "q", "gamma"}
    assert model["quality"]["holdout_days"] == 90
    assert len(model["quality"]["buckets"]) == 7
    assert sum(b["customers"] for b in found["alive_bands"]) == 300
    with Session(engine) as session:
        values = list(session.scalars(select(CustomerFeature.predicted_value_fen)))
    assert len(values) == 300
    assert all(v is not None and v >= 0 for v in values)
    exported = api.get("/api/v1/analytics/clv", params={"format": "csv"})
    assert exported.content.decode("utf-8-sig").startswith("指标,区间,客户数")


def test_a_workspace_without_enough_history_ends_with_a_failed_model(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, run_jobs: RunJobs
) -> None:
    _history(engine, workspace.id, 3)

    api.post("/api/v1/analytics/clv/fit", json={})
    run_jobs()

    attempt = api.get("/api/v1/analytics/clv").json()["latest_attempt"]
    assert attempt["status"] == "failed"
    assert "CLV" in attempt["last_error"]
    assert api.get("/api/v1/analytics/clv/models").json()[0]["id"] == attempt["id"]


def test_a_fit_holds_no_write_lock_while_it_reads_and_fits(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(engine, workspace.id, 300)
    written_meanwhile: list[int] = []

    def fit_while_another_writes(*args: np.ndarray) -> BgNbd:
        with impatient_writer(engine) as other:
            updated = other.execute(
                update(Customer).where(Customer.workspace_id == workspace.id).values(remark="跟进")
            )
        written_meanwhile.append(updated.rowcount)
        return fit_bgnbd(*args)

    monkeypatch.setattr(clv_fit, "fit_bgnbd", fit_while_another_writes)
    monkeypatch.setattr(clv_fit, "WRITE_CHUNK", 120)
    api.post("/api/v1/analytics/clv/fit", json={"holdout_days": 90})
    run_jobs()

    assert written_meanwhile == [300, 300]  # the hold-out fit and the full one
    assert api.get("/api/v1/analytics/clv").json()["model"]["status"] == "ready"
    with Session(engine) as session:
        values = session.scalars(select(CustomerFeature.p_alive)).all()
    assert len(values) == 300
    assert all(v is not None for v in values)


def test_the_web_cli_and_worker_start_without_loading_scipy() -> None:
    """It takes most of a second to import; only a CLV fit needs it. (numpy, a tenth of
    that, is loaded: tag membership is kept and combined as bits with it.)"""
    code = (
        "import sys, siyu.api, siyu.cli.main, siyu.worker.catalog as c; c.load_job_handlers(); "
        "print(sorted({'scipy'} & {m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(  # noqa: S603 - this interpreter, our own package
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
