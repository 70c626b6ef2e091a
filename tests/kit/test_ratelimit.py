import asyncio
import threading
import time

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.kit.ratelimit import DatabaseLimiter, Limit, Window, WindowLimit
from siyu.models import RateBucket, Workspace
from tests.conftest import MakeWorkspace, WorkspaceFixture

SLOW = Limit(rate=0.001, capacity=3)


def test_a_new_bucket_grants_its_capacity_then_says_how_long_to_wait(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    limiter = DatabaseLimiter(engine, workspace.id)

    grants = [limiter.try_acquire("wecom:user/list", SLOW) for _ in range(3)]
    refused = limiter.try_acquire("wecom:user/list", SLOW)

    assert grants == [None, None, None]
    assert refused is not None
    assert 900 < refused <= 1000  # one token at 0.001/s takes up to 1000 s


def test_an_empty_bucket_refills_with_elapsed_time_up_to_its_capacity(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    limiter = DatabaseLimiter(engine, workspace.id)
    for _ in range(3):
        limiter.try_acquire("k", SLOW)
    assert limiter.try_acquire("k", SLOW) is not None
    # Two hours pass: the refill (7.2 tokens) is capped at the capacity of 3.
    with unit_of_work(engine) as session:
        session.execute(update(RateBucket).values(refilled_at=RateBucket.refilled_at - 7200))

    grants = [limiter.try_acquire("k", SLOW) for _ in range(4)]

    assert grants[:3] == [None, None, None]
    assert grants[3] is not None


def test_buckets_are_separate_per_workspace_and_key(
    engine: Engine, make_workspace: MakeWorkspace
) -> None:
    first, second = make_workspace(), make_workspace()
    one = Limit(rate=0.001, capacity=1)
    limiter = DatabaseLimiter(engine, first.id)
    assert limiter.try_acquire("a", one) is None
    assert limiter.try_acquire("a", one) is not None

    assert limiter.try_acquire("b", one) is None
    assert DatabaseLimiter(engine, second.id).try_acquire("a", one) is None


def test_two_processes_sharing_a_bucket_never_exceed_its_rate(
    database_url: str, engine: Engine, workspace: WorkspaceFixture
) -> None:
    limit = Limit(rate=40, capacity=4)
    per_worker = 15
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        own_engine = build_engine(database_url)  # a separate pool, like another process
        limiter = DatabaseLimiter(own_engine, workspace.id)

        async def run() -> None:
            for _ in range(per_worker):
                await limiter.acquire("shared", limit)
                with lock:
                    grants.append(time.time())

        try:
            asyncio.run(run())
        finally:
            own_engine.dispose()

    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(grants) == 2 * per_worker
    # By any moment t, at most capacity + rate·(t − start) tokens can have been handed out
    # (+1 for the clock read after the grant).
    for count, granted_at in enumerate(sorted(grants), start=1):
        assert count <= limit.capacity + limit.rate * (granted_at - started) + 1


def test_a_caller_holding_the_write_lock_can_still_take_tokens(
    engine: Engine, db: Session, workspace: WorkspaceFixture
) -> None:
    db.get(Workspace, workspace.id)  # the session's transaction is open (on SQLite: locked)
    limiter = DatabaseLimiter(engine, workspace.id, session=db)

    assert limiter.try_acquire("k", SLOW) is None
    db.commit()

    with unit_of_work(engine) as session:
        tokens = session.scalars(select(RateBucket.tokens)).one()
    assert tokens == 2


MINUTE = WindowLimit((Window(3, 60),))


def test_a_window_grants_its_whole_quota_at_once_then_waits_for_the_window_to_pass(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    limiter = DatabaseLimiter(engine, workspace.id)

    grants = [limiter.try_acquire("wecom:user/list", MINUTE) for _ in range(3)]
    refused = limiter.try_acquire("wecom:user/list", MINUTE)

    assert grants == [None, None, None]
    assert refused is not None
    # The first call leaves the counted slots 61–62 s after it was made (a minute, one
    # slot for the time a request travels, and the slot it was made in).
    assert 60 < refused <= 62


def test_calls_that_left_the_window_no_longer_count(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    limiter = DatabaseLimiter(engine, workspace.id)
    for _ in range(3):
        limiter.try_acquire("k", MINUTE)
    assert limiter.try_acquire("k", MINUTE) is not None
    # 62 one-second slots pass: the ring's calls are all older than the window.
    with unit_of_work(engine) as session:
        session.execute(update(RateBucket).values(refilled_at=RateBucket.refilled_at - 62))

    grants = [limiter.try_acquire("k", MINUTE) for _ in range(4)]

    assert grants[:3] == [None, None, None]
    assert grants[3] is not None


def test_every_window_of_a_limit_must_allow_the_call(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    limiter = DatabaseLimiter(engine, workspace.id)
    limit = WindowLimit((Window(5, 60), Window(2, 3600)))

    grants = [limiter.try_acquire("k", limit) for _ in range(3)]

    assert grants[:2] == [None, None]
    assert grants[2] is not None
    assert grants[2] > 3600  # the hour's quota is used up, though the minute's is not


def test_two_processes_sharing_a_window_never_exceed_its_calls_in_any_span(
    database_url: str, engine: Engine, workspace: WorkspaceFixture
) -> None:
    window = Window(4, 2.0)
    per_worker = 5
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        own_engine = build_engine(database_url)  # a separate pool, like another process
        limiter = DatabaseLimiter(own_engine, workspace.id)

        async def run() -> None:
            for _ in range(per_worker):
                await limiter.acquire("shared", WindowLimit((window,)))
                with lock:
                    grants.append(time.time())

        try:
            asyncio.run(run())
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(grants) == 2 * per_worker
    # No span of the window's length holds more than its calls. (The limiter keeps a slot,
    # 1/60 of the window, more than that between them, for the clock read after a grant.)
    stamps = sorted(grants)
    for first, later in zip(stamps, stamps[window.calls :], strict=False):
        assert later - first >= window.seconds
