from collections.abc import Callable

import pytest
from sqlalchemy import Engine, insert, select

from siyu.db.session import unit_of_work
from siyu.models import Customer

MakeCustomers = Callable[[int, int], list[int]]


@pytest.fixture
def make_customers(engine: Engine) -> MakeCustomers:
    """Insert `count` customers into a workspace in one statement; returns their ids."""

    def make(workspace_id: int, count: int) -> list[int]:
        with unit_of_work(engine) as session:
            rows = [{"workspace_id": workspace_id, "name": f"客户{i}"} for i in range(count)]
            session.execute(insert(Customer), rows)
            return list(
                session.scalars(
                    select(Customer.id)
                    .where(Customer.workspace_id == workspace_id)
                    .order_by(Customer.id)
                )
            )[-count:]

    return make
