"""Planning a broadcast: who is excluded and why, caps and WeCom's quota at their edges,
one message per address, the snapshot as the audience, and planning that runs twice."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.content import preferences
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import planning
from siyu.messaging import rules as messaging_rules
from siyu.messaging.schemas import Eligibility
from siyu.models import (
    Broadcast,
    Customer,
    Delivery,
    FollowRelation,
    Identity,
    SegmentSnapshot,
    Staff,
    Workspace,
)
from tests.conftest import WorkspaceFixture
from tests.messaging.conftest import SmtpSink

RunJobs = Callable[[], int]
SHANGHAI = ZoneInfo("Asia/Shanghai")
# a Wednesday morning in Shanghai
NOW = datetime(2026, 12, 16, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Shop:
    """A workspace's customers by name, and what the tests add to it."""

    engine: Engine
    api: TestClient
    workspace_id: int
    ids: dict[str, int]

    def customers(self, **people: dict[str, Any]) -> None:
        with unit_of_work(self.engine) as session:
            for name, fields in people.items():
                customer = Customer(workspace_id=self.workspace_id, name=name, **fields)
                session.add(customer)
                session.flush()
                self.ids[name] = customer.id

    def segment(self, *names: str) -> int:
        created = self.api.post(
            "/api/v1/segments", json={"name": "群发名单", "kind": "static", "rule": None}
        )
        assert created.status_code == 201, created.text
        segment_id: int = created.json()["id"]
        self.add_to(segment_id, *names)
        return segment_id

    def add_to(self, segment_id: int, *names: str) -> None:
        added = self.api.post(
            f"/api/v1/segments/{segment_id}/members",
            json={"customer_ids": [self.ids[n] for n in names]},
        )
        assert added.status_code == 200, added.text

    def opt_out(self, name: str, channel: str) -> None:
        with unit_of_work(self.engine) as session:
            preferences.opt_out(session, self.workspace_id, self.ids[name], channel, "test")

    def sent(self, name: str, channel: str, *times: datetime, status: str = "delivered") -> None:
        """Earlier broadcasts that reached the customer at `times`, one each."""
        with unit_of_work(self.engine) as session:
            for at in times:
                earlier = Broadcast(
                    workspace_id=self.workspace_id,
                    name="往期群发",
                    channel=channel,
                    status="completed",
                )
                session.add(earlier)
                session.flush()
                session.add(
                    Delivery(
                        workspace_id=self.workspace_id,
                        broadcast_id=earlier.id,
                        customer_id=self.ids[name],
                        channel=channel,
                        address="earlier",
                        status=status,
                        sent_at=at,
                    )
                )

    def rules(self, **rules: Any) -> None:
        response = self.api.put("/api/v1/messaging/rules", json=rules)
        assert response.status_code == 200, response.text

    def eligibility(self, channel: str, segment_id: int) -> dict[str, Any]:
        response = self.api.post(
            "/api/v1/broadcasts/eligibility", json={"channel": channel, "segment_id": segment_id}
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def eligibility_at(self, now: datetime, channel: str, segment_id: int) -> Eligibility:
        with unit_of_work(self.engine) as session:
            audience = planning.segment_audience(session, self.workspace_id, segment_id)
            return planning.eligibility(session, self.workspace_id, channel, audience, now=now)

    def broadcast(self, channel: str, segment_id: int) -> int:
        with unit_of_work(self.engine) as session:
            row = Broadcast(
                workspace_id=self.workspace_id,
                name=f"{channel} 会员日",
                channel=channel,
                segment_id=segment_id,
                content={
                    "subject": "会员日",
                    "text": "{客户昵称}，会员日快乐",
                    "html": "<p>会员日</p>",
                },
            )
            session.add(row)
            session.flush()
            return row.id

    def plan(self, broadcast_id: int, now: datetime | None = None) -> None:
        """What the start job does first."""
        with unit_of_work(self.engine) as session:
            row = session.get(Broadcast, broadcast_id)
            assert row is not None
            planning.plan(session, row, now=now)

    def deliveries(self, broadcast_id: int) -> dict[str, Delivery]:
        names = {v: k for k, v in self.ids.items()}
        with unit_of_work(self.engine, write=False) as session:
            rows = session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id))
            found = {names[row.customer_id]: row for row in rows}
            session.expunge_all()
            return found

    def results(self, broadcast_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/broadcasts/{broadcast_id}/results")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def shop(engine: Engine, api: TestClient, workspace: WorkspaceFixture) -> Shop:
    return Shop(engine, api, workspace.id, {})


def _staff(engine: Engine, workspace_id: int, **people: tuple[str | None, str]) -> dict[str, int]:
    """Staff by name: (WeCom userid, status)."""
    with unit_of_work(engine) as session:
        rows = {
            name: Staff(workspace_id=workspace_id, name=name, wecom_userid=userid, status=status)
            for name, (userid, status) in people.items()
        }
        session.add_all(rows.values())
        session.flush()
        return {name: row.id for name, row in rows.items()}


def _wecom_friend(
    shop: Shop, name: str, *followers: tuple[int, str], userid: str | None = None
) -> None:
    """The customer's external userid and follow relations (staff id, status), oldest first."""
    with unit_of_work(shop.engine) as session:
        customer_id = shop.ids[name]
        session.add(
            Identity(
                workspace_id=shop.workspace_id,
                customer_id=customer_id,
                kind="wecom_external_userid",
                value=userid or f"wm{customer_id:08d}",
            )
        )
        for staff_id, status in followers:
            session.add(
                FollowRelation(
                    workspace_id=shop.workspace_id,
                    customer_id=customer_id,
                    staff_id=staff_id,
                    added_at=utcnow(),
                    status=status,
                )
            )
            session.flush()


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def _zone_at_noon() -> str:
    """A time zone where it is about noon now, so "today" cannot end during a test."""
    offset = 12 - utcnow().hour
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


# -- every reason, counted and shown -------------------------------------------------------


def test_email_eligibility_and_results_count_every_exclusion_reason(shop: Shop) -> None:
    shop.customers(
        王芳={"email": "wangfang@example.cn"},
        李娜={"email": "lina@example.cn"},
        张伟={},
        刘洋={"email": "liuyang@example.cn"},
        陈静={"email": "lina@example.cn"},
        杨磊={"email": "yanglei@example.cn"},
    )
    shop.opt_out("刘洋", "email")
    shop.rules(frequency_caps={"email": {"max_messages": 1, "days": 7}})
    shop.sent("杨磊", "email", utcnow() - timedelta(days=1))
    segment_id = shop.segment(*shop.ids)

    preview = shop.eligibility("email", segment_id)
    broadcast_id = shop.broadcast("email", segment_id)
    shop.plan(broadcast_id)
    results = shop.results(broadcast_id)

    reasons = {"opted_out": 1, "no_address": 1, "duplicate": 1, "frequency_cap": 1}
    assert preview == {"audience": 6, "eligible": 2, "excluded": reasons, "groups": []}
    assert results["excluded_by_reason"] == reasons
    assert results["counts"]["planned"] == 2
    assert results["counts"]["excluded"] == 4
    assert {n: d.reason for n, d in shop.deliveries(broadcast_id).items()} == {
        "王芳": None,
        "李娜": None,
        "张伟": "no_address",
        "刘洋": "opted_out",
        "陈静": "duplicate",
        "杨磊": "frequency_cap",
    }


def test_wecom_eligibility_and_results_count_every_exclusion_reason(
    shop: Shop, engine: Engine
) -> None:
    with unit_of_work(engine) as session:
        workspace = session.get(Workspace, shop.workspace_id)
        assert workspace is not None
        workspace.timezone = _zone_at_noon()
    staff = _staff(engine, shop.workspace_id, 小美=("xiaomei", "active"), 阿杰=("ajie", "resigned"))
    shop.customers(**{n: {} for n in ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏")})
    _wecom_friend(shop, "王芳", (staff["小美"], "active"))
    _wecom_friend(shop, "李娜", (staff["阿杰"], "active"))
    _wecom_friend(shop, "刘洋", (staff["小美"], "active"))
    _wecom_friend(shop, "陈静", (staff["小美"], "deleted_by_customer"))
    _wecom_friend(shop, "杨磊", (staff["小美"], "active"))
    _wecom_friend(shop, "赵敏", (staff["小美"], "active"))
    shop.opt_out("刘洋", "all")
    shop.rules(frequency_caps={"wecom": {"max_messages": 2, "days": 30}}, wecom_quota="day")
    shop.sent("杨磊", "wecom", utcnow() - timedelta(days=20), utcnow() - timedelta(days=3))
    shop.sent("赵敏", "wecom", utcnow() - timedelta(minutes=5))
    segment_id = shop.segment(*shop.ids)

    preview = shop.eligibility("wecom", segment_id)
    broadcast_id = shop.broadcast("wecom", segment_id)
    shop.plan(broadcast_id)
    results = shop.results(broadcast_id)

    reasons = {
        "opted_out": 1,
        "no_address": 1,
        "no_follow": 2,
        "frequency_cap": 1,
        "wecom_quota": 1,
    }
    assert preview == {"audience": 7, "eligible": 1, "excluded": reasons, "groups": []}
    assert results["excluded_by_reason"] == reasons
    assert results["counts"]["planned"] == 1
    rows = shop.deliveries(broadcast_id)
    assert {n: d.reason for n, d in rows.items()} == {
        "王芳": None,
        "李娜": "no_follow",
        "张伟": "no_address",
        "刘洋": "opted_out",
        "陈静": "no_follow",
        "杨磊": "frequency_cap",
        "赵敏": "wecom_quota",
    }
    assert rows["王芳"].staff_id == staff["小美"]
    assert rows["王芳"].address == f"wm{shop.ids['王芳']:08d}"


# -- frequency caps and WeCom's quota at the edges of their windows -------------------------


def test_a_frequency_cap_counts_sends_of_its_channel_inside_its_window_only(shop: Shop) -> None:
    people = ("at_edge", "just_before", "failed", "other_channel", "sms_capped")
    shop.customers(**{n: {"email": f"{n}@example.cn", "mobile": f"+861380000{i:04d}"}
                      for i, n in enumerate(people)})  # fmt: skip
    shop.rules(
        frequency_caps={
            "email": {"max_messages": 2, "days": 7},
            "sms": {"max_messages": 1, "days": 1},
        }
    )
    week_ago = NOW - timedelta(days=7)
    shop.sent("at_edge", "email", week_ago, NOW - timedelta(hours=1))
    shop.sent("just_before", "email", week_ago - timedelta(seconds=1), NOW - timedelta(hours=1))
    shop.sent("failed", "email", NOW - timedelta(days=2), NOW - timedelta(days=1), status="failed")
    shop.sent("other_channel", "sms", NOW - timedelta(days=3), NOW - timedelta(days=2))
    shop.sent("sms_capped", "sms", NOW - timedelta(hours=23))
    segment_id = shop.segment(*people)

    email = shop.eligibility_at(NOW, "email", segment_id)
    sms = shop.eligibility_at(NOW, "sms", segment_id)

    assert email == Eligibility(audience=5, eligible=4, excluded={"frequency_cap": 1})
    assert sms == Eligibility(audience=5, eligible=4, excluded={"frequency_cap": 1})
    broadcast_id = shop.broadcast("email", segment_id)
    shop.plan(broadcast_id, now=NOW)
    assert shop.deliveries(broadcast_id)["at_edge"].reason == "frequency_cap"


@pytest.mark.parametrize(
    ("rule", "period_start", "allowed"),
    [
        ("day", datetime(2026, 12, 16, tzinfo=SHANGHAI), 1),
        ("week", datetime(2026, 12, 14, tzinfo=SHANGHAI), 7),  # the Monday
        ("days_of_month", datetime(2026, 12, 1, tzinfo=SHANGHAI), 31),
    ],
)
def test_wecom_quota_counts_mass_messages_since_the_start_of_the_period(
    shop: Shop, engine: Engine, rule: str, period_start: datetime, allowed: int
) -> None:
    staff = _staff(engine, shop.workspace_id, 小美=("xiaomei", "active"))
    shop.customers(full={}, one_before_the_period={}, one_short={})
    for name in shop.ids:
        _wecom_friend(shop, name, (staff["小美"], "active"))
    shop.rules(wecom_quota=rule)
    inside = [period_start + timedelta(minutes=n) for n in range(allowed)]
    shop.sent("full", "wecom", *inside)
    shop.sent("one_before_the_period", "wecom", period_start - timedelta(seconds=1), *inside[1:])
    shop.sent("one_short", "wecom", *inside[1:])
    segment_id = shop.segment(*shop.ids)

    eligibility = shop.eligibility_at(NOW, "wecom", segment_id)

    assert eligibility == Eligibility(audience=3, eligible=2, excluded={"wecom_quota": 1})
    broadcast_id = shop.broadcast("wecom", segment_id)
    shop.plan(broadcast_id, now=NOW)
    rows = shop.deliveries(broadcast_id)
    assert rows["full"].reason == "wecom_quota"
    assert rows["one_before_the_period"].status == rows["one_short"].status == "pending"


@pytest.mark.parametrize(
    ("rule", "local_now", "start", "allowed"),
    [
        (
            "day",
            _local(2027, 2, 10, 0, 0),
            _local(2027, 2, 10),
            1,
        ),
        (
            "day",
            _local(2027, 2, 9, 23, 59),
            _local(2027, 2, 9),
            1,
        ),
        (
            "week",
            _local(2027, 2, 14, 23, 59),
            _local(2027, 2, 8),
            7,
        ),  # Sunday → Monday
        (
            "week",
            _local(2027, 2, 15, 0, 0),
            _local(2027, 2, 15),
            7,
        ),
        (
            "days_of_month",
            _local(2027, 2, 28, 12, 0),
            _local(2027, 2, 1),
            28,
        ),
        (
            "days_of_month",
            _local(2028, 2, 29, 12, 0),
            _local(2028, 2, 1),
            29,
        ),
        (
            "days_of_month",
            _local(2027, 4, 30, 23, 0),
            _local(2027, 4, 1),
            30,
        ),
    ],
)
def test_quota_periods_follow_the_workspace_calendar(
    rule: str, local_now: datetime, start: datetime, allowed: int
) -> None:
    assert messaging_rules.quota_window(rule, local_now.astimezone(UTC), SHANGHAI) == (
        start,
        allowed,
    )


# -- one message per address ---------------------------------------------------------------


def test_customers_sharing_an_address_get_one_message(shop: Shop) -> None:
    shop.customers(
        妈妈={"email": "family@example.cn", "mobile": "+8613800001111"},
        爸爸={"email": "family@example.cn", "mobile": "+8613800001111"},
        女儿={"email": "family@example.cn", "mobile": "+8613800002222"},
    )
    segment_id = shop.segment(*shop.ids)
    email = shop.broadcast("email", segment_id)
    sms = shop.broadcast("sms", segment_id)

    shop.plan(email)
    shop.plan(sms)

    emails = shop.deliveries(email)
    assert [n for n, d in emails.items() if d.status == "pending"] == ["妈妈"]
    assert emails["爸爸"].reason == emails["女儿"].reason == "duplicate"
    texts = shop.deliveries(sms)
    assert sorted(n for n, d in texts.items() if d.status == "pending") == ["女儿", "妈妈"]
    assert texts["爸爸"].reason == "duplicate"


def test_a_shared_address_goes_to_whoever_of_its_customers_may_receive_it(shop: Shop) -> None:
    shop.customers(
        哥哥={"email": "home@example.cn"},
        弟弟={"email": "home@example.cn"},
        姐姐={"email": "sister@example.cn"},
        妹妹={"email": "sister@example.cn"},
    )
    shop.opt_out("哥哥", "email")
    shop.rules(frequency_caps={"email": {"max_messages": 1, "days": 7}})
    shop.sent("姐姐", "email", utcnow() - timedelta(days=1))
    segment_id = shop.segment(*shop.ids)

    preview = shop.eligibility("email", segment_id)

    assert preview == {
        "audience": 4,
        "eligible": 2,
        "excluded": {"opted_out": 1, "frequency_cap": 1},
        "groups": [],
    }
    broadcast_id = shop.broadcast("email", segment_id)
    shop.plan(broadcast_id)
    assert sorted(n for n, d in shop.deliveries(broadcast_id).items() if d.reason is None) == [
        "妹妹",
        "弟弟",
    ]


# -- WeCom: an active staff member must follow the customer --------------------------------


def test_wecom_excludes_customers_no_active_staff_member_follows(
    shop: Shop, engine: Engine
) -> None:
    staff = _staff(
        engine,
        shop.workspace_id,
        在职=("active-member", "active"),
        离职=("left-member", "resigned"),
        停用=("disabled-member", "disabled"),
        未绑定=(None, "active"),
    )
    shop.customers(**{n: {} for n in ("在职好友", "离职导购", "停用导购", "未绑定企微", "已删除",
                                       "先离职后在职", "无企微")})  # fmt: skip
    _wecom_friend(shop, "在职好友", (staff["在职"], "active"))
    _wecom_friend(shop, "离职导购", (staff["离职"], "active"))
    _wecom_friend(shop, "停用导购", (staff["停用"], "active"))
    _wecom_friend(shop, "未绑定企微", (staff["未绑定"], "active"))
    _wecom_friend(shop, "已删除", (staff["在职"], "deleted_by_staff"))
    _wecom_friend(shop, "先离职后在职", (staff["离职"], "active"), (staff["在职"], "active"))
    segment_id = shop.segment(*shop.ids)
    broadcast_id = shop.broadcast("wecom", segment_id)

    shop.plan(broadcast_id)

    rows = shop.deliveries(broadcast_id)
    assert {n: d.reason for n, d in rows.items()} == {
        "在职好友": None,
        "离职导购": "no_follow",
        "停用导购": "no_follow",
        "未绑定企微": "no_follow",
        "已删除": "no_follow",
        "先离职后在职": None,
        "无企微": "no_address",
    }
    assert rows["先离职后在职"].staff_id == staff["在职"]


# -- the snapshot is the audience; planning twice adds nothing ------------------------------


def _email_account(api: TestClient, sink: SmtpSink) -> None:
    response = api.put(
        "/api/v1/messaging/channels/email",
        json={
            "config": {
                "host": sink.host,
                "port": sink.port,
                "security": "none",
                "from_address": "crm@huaxizi-demo.cn",
                "from_name": "花西子会员中心",
            },
            "secret": "",
        },
    )
    assert response.status_code == 200, response.text


def test_a_customer_added_to_the_segment_after_the_snapshot_is_not_sent(
    shop: Shop, smtp_sink: SmtpSink, run_jobs: RunJobs
) -> None:
    shop.customers(王芳={"email": "wangfang@example.cn"}, 李娜={"email": "lina@example.cn"})
    segment_id = shop.segment("王芳", "李娜")
    _email_account(shop.api, smtp_sink)
    broadcast_id = shop.broadcast("email", segment_id)
    shop.plan(broadcast_id)
    shop.customers(迟到={"email": "late@example.cn"})
    shop.add_to(segment_id, "迟到")

    sent = shop.api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert sent.status_code == 200, sent.text
    run_jobs()

    recipients = sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in smtp_sink.inbox.messages)
    assert recipients == ["lina@example.cn", "wangfang@example.cn"]
    assert set(shop.deliveries(broadcast_id)) == {"王芳", "李娜"}
    assert shop.results(broadcast_id)["counts"]["sent"] == 2


def test_planning_again_reuses_the_snapshot_and_adds_no_rows(shop: Shop, engine: Engine) -> None:
    shop.customers(王芳={"email": "wangfang@example.cn"}, 李娜={"email": "lina@example.cn"})
    segment_id = shop.segment("王芳", "李娜")
    broadcast_id = shop.broadcast("email", segment_id)
    shop.plan(broadcast_id)
    shop.customers(迟到={"email": "late@example.cn"})
    shop.add_to(segment_id, "迟到")
    with unit_of_work(engine, write=False) as session:
        first = session.get(Broadcast, broadcast_id)
        assert first is not None
        snapshot_id = first.snapshot_id

    shop.plan(broadcast_id)

    with unit_of_work(engine, write=False) as session:
        again = session.get(Broadcast, broadcast_id)
        assert again is not None
        assert again.snapshot_id == snapshot_id
        assert (again.planned_count, again.excluded_count) == (2, 0)
        snapshot = session.get(SegmentSnapshot, snapshot_id)
        assert snapshot is not None
        assert (snapshot.member_count, snapshot.purpose) == (2, f"broadcast {broadcast_id}")
    assert set(shop.deliveries(broadcast_id)) == {"王芳", "李娜"}
