"""Home dashboard overview and customer CSV export at a generated size.

    .venv/bin/python -m bench.analytics_overview --size S [--database-url URL] [--runs 3]

Needs the dataset of bench/generate.py for the same size and database. Calls the services
in-process (no HTTP), each on a fresh read session:

| measure              | what                                                              |
|----------------------|-------------------------------------------------------------------|
| overview (workspace) | GET /analytics/overview as an admin: every query of the dashboard |
| overview (staff)     | the same as the staff member following the most customers         |
| export               | the whole customer list as CSV, rows per second                   |

Prints the median of each over `--runs` runs.
"""

import argparse
import time
from collections.abc import Callable

from sqlalchemy import func, select

from bench.common import DEFAULT_DATABASE_URL, Dataset, database_label, median
from siyu.analytics import service
from siyu.customers import export
from siyu.db.engine import build_engine
from siyu.db.session import session_factory
from siyu.models import FollowRelation
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    dataset = Dataset.load(args.database_url, args.size)
    engine = build_engine(dataset.database_url)
    sessions = session_factory(engine, write=False)
    ws = dataset.workspace_id
    with sessions() as session:
        busiest = session.execute(
            select(FollowRelation.staff_id, func.count().label("n"))
            .where(FollowRelation.workspace_id == ws, FollowRelation.status == "active")
            .group_by(FollowRelation.staff_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    admin = Principal.system(ws)
    staff = Principal(workspace_id=ws, role=Role.STAFF, staff_id=busiest.staff_id)

    def overview(principal: Principal) -> Callable[[], object]:
        def run() -> object:
            with sessions() as session:
                return service.overview(session, principal)

        return run

    rows = 0

    def export_all() -> None:
        nonlocal rows
        rows = (
            sum(chunk.count(b"\n") for chunk in export.csv_chunks(sessions, admin, {"sort": None}))
            - 1
        )

    print(f"{args.size} on {database_label(dataset.database_url)}: {dataset.customers:,} customers")
    results = {
        "overview (workspace)": [timed(overview(admin)) for _ in range(args.runs)],
        f"overview (staff, {busiest.n:,} customers)": [
            timed(overview(staff)) for _ in range(args.runs)
        ],
    }
    for name, values in results.items():
        print(f"{name:<40} {median(values) * 1000:8.0f} ms")
    seconds = median([timed(export_all) for _ in range(args.runs)])
    print(f"{'export (all customers)':<40} {seconds * 1000:8.0f} ms  {rows / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
