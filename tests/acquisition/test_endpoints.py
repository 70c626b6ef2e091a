from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from siyu.connectors.wecom_sim import WecomSim
from siyu.db.session import unit_of_work
from siyu.models import AuditEntry
from siyu.staff import service as staff_service
from siyu.staff.schemas import StaffIn
from siyu.workspace.roles import Role
from tests.acquisition.conftest import Corp, create_code
from tests.conftest import MakeWorkspace, WorkspaceFixture


def _tag(api: TestClient, name: str = "门店") -> int:
    group = api.post("/api/v1/tag-groups", json={"name": f"来源-{name}"}).json()["id"]
    return int(api.post(f"/api/v1/tag-groups/{group}/tags", json={"name": name}).json()["id"])


def test_creating_a_code_creates_the_contact_way_in_wecom(
    api: TestClient, corp: Corp, wecom_sim: WecomSim
) -> None:
    tag = _tag(api)
    code = create_code(
        api,
        [{"staff_id": corp.staff_ids[0]}, {"staff_id": corp.staff_ids[1], "is_backup": True}],
        tag_ids=[tag],
        welcome={"text": "你好 {客户昵称}", "attachments": []},
        remark_template="{渠道}",
    )

    way = wecom_sim.state.contact_ways[str(code["config_id"])]
    assert way.state == code["state"]
    assert len(str(code["state"])) <= 30
    assert way.type == 1
    assert way.user == [corp.userids[0]]
    assert way.skip_verify is True
    assert code["qr_code"] == way.qr_code
    assert code["sync_error"] is None
    assert [(s["staff_id"], s["on_duty"]) for s in code["staff"]] == [
        (corp.staff_ids[0], True),
        (corp.staff_ids[1], False),
    ]
    listed = api.get("/api/v1/live-codes").json()
    assert [(c["id"], c["adds_today"], c["adds_total"]) for c in listed] == [(code["id"], 0, 0)]


def test_updating_staff_and_skip_verify_updates_the_contact_way(
    api: TestClient, corp: Corp, wecom_sim: WecomSim
) -> None:
    code = create_code(
        api, [{"staff_id": corp.staff_ids[0]}, {"staff_id": corp.staff_ids[1]}], code_type="multi"
    )

    response = api.patch(
        f"/api/v1/live-codes/{code['id']}",
        json={"staff": [{"staff_id": corp.staff_ids[2]}], "skip_verify": False, "name": "新名字"},
    )

    assert response.status_code == 200, response.text
    way = wecom_sim.state.contact_ways[str(code["config_id"])]
    assert way.user == [corp.userids[2]]
    assert way.skip_verify is False
    assert way.remark == "新名字"
    assert response.json()["config_id"] == code["config_id"]


def test_deleting_a_code_deletes_the_contact_way_and_hides_the_code(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, engine: Engine, workspace: WorkspaceFixture
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}])

    deleted = api.delete(f"/api/v1/live-codes/{code['id']}")

    assert deleted.status_code == 204
    assert str(code["config_id"]) not in wecom_sim.state.contact_ways
    assert api.get(f"/api/v1/live-codes/{code['id']}").status_code == 404
    assert api.get("/api/v1/live-codes").json() == []
    with unit_of_work(engine) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.workspace_id == workspace.id)
        ).all()
    assert {"live_code.create", "live_code.delete"} <= set(actions)


def test_qr_code_downloads_as_png(api: TestClient, corp: Corp) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}])

    first = api.get(f"/api/v1/live-codes/{code['id']}/qr")
    second = api.get(f"/api/v1/live-codes/{code['id']}/qr")

    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    assert first.content.startswith(b"\x89PNG")
    assert second.content == first.content


def test_wecom_refusal_is_shown_with_its_errcode_and_nothing_is_saved(
    api: TestClient, corp: Corp, wecom_sim: WecomSim
) -> None:
    wecom_sim.state.members[corp.userids[0]].status = 4  # not activated

    response = api.post(
        "/api/v1/live-codes",
        json={"name": "码", "channel": "渠道", "staff": [{"staff_id": corp.staff_ids[0]}]},
    )

    assert response.status_code == 502, response.text
    details = response.json()["error"]["details"]
    assert details["errcode"] in {40003, 41054}
    assert details["hint"]
    assert api.get("/api/v1/live-codes").json() == []


def _shift(weekday: int, start: str, end: str) -> dict[str, Any]:
    return {
        "staff": [{"staff_id": 0, "schedule": [{"weekdays": [weekday], "ranges": [[start, end]]}]}]
    }


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("no staff", {"staff": []}, "staff"),
    ("duplicate staff", {"staff": [{"staff_id": 0}, {"staff_id": 0}]}, "staff[1].staff_id"),
    ("unknown staff", {"staff": [{"staff_id": 999_999}]}, "staff[0].staff_id"),
    ("only backups", {"staff": [{"staff_id": 0, "is_backup": True}]}, "staff"),
    (
        "two primaries on a single code",
        {"staff": [{"staff_id": 0}, {"staff_id": 1}]},
        "staff",
    ),
    ("cap below one", {"daily_cap": 0}, "daily_cap"),
    ("member cap below one", {"staff": [{"staff_id": 0, "daily_cap": 0}]}, "staff.0.daily_cap"),
    (
        "range ends before it starts",
        {
            "staff": [
                {"staff_id": 0, "schedule": [{"weekdays": [1], "ranges": [["18:00", "09:00"]]}]}
            ]
        },
        "staff[0].schedule[0].ranges[0]",
    ),
    (
        "malformed time",
        {
            "staff": [
                {"staff_id": 0, "schedule": [{"weekdays": [1], "ranges": [["9:00", "18:00"]]}]}
            ]
        },
        "staff.0.schedule.0.ranges.0.0",
    ),
    (
        "weekday 8",
        {
            "staff": [
                {"staff_id": 0, "schedule": [{"weekdays": [8], "ranges": [["09:00", "18:00"]]}]}
            ]
        },
        "staff.0.schedule.0.weekdays.0",
    ),
    ("half a window", {"skip_verify_from": "09:00"}, "skip_verify_to"),
    ("unknown tag", {"tag_ids": [987_654]}, "tag_ids[0]"),
    ("text over 4000 bytes", {"welcome": {"text": "欢" * 1334}}, "welcome.text"),
    (
        "ten attachments",
        {"welcome": {"attachments": [{"msgtype": "file", "file": {"media_id": "m"}}] * 10}},
        "welcome.attachments",
    ),
    (
        "attachment without its payload",
        {"welcome": {"attachments": [{"msgtype": "link"}]}},
        "welcome.attachments[0].link",
    ),
    (
        "image without media or url",
        {"welcome": {"attachments": [{"msgtype": "image", "image": {}}]}},
        "welcome.attachments[0].image",
    ),
]


@pytest.mark.parametrize(("case", "change", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_codes_are_refused_naming_the_field(
    api: TestClient, corp: Corp, wecom_sim: WecomSim, case: str, change: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "name": "码",
        "channel": "渠道",
        "staff": [{"staff_id": corp.staff_ids[0]}],
        **change,
    }
    for member in body["staff"]:
        if member["staff_id"] < len(corp.staff_ids):
            member["staff_id"] = corp.staff_ids[member["staff_id"]]

    response = api.post("/api/v1/live-codes", json=body)

    assert response.status_code == 422, (case, response.text)
    assert response.json()["error"]["details"]["field"] == field
    assert wecom_sim.state.contact_ways == {}


def test_inactive_staff_cannot_be_put_on_a_code(
    api: TestClient, corp: Corp, engine: Engine, workspace: WorkspaceFixture
) -> None:
    with unit_of_work(engine) as session:
        left = staff_service.create_staff(
            session, workspace.id, StaffIn(name="离职员工", wecom_userid="gone", status="inactive")
        )

    response = api.post(
        "/api/v1/live-codes",
        json={"name": "码", "channel": "渠道", "staff": [{"staff_id": left.id}]},
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "staff[0].staff_id"


def test_viewers_read_but_only_operators_write(
    client: TestClient, make_workspace: MakeWorkspace
) -> None:
    viewer = make_workspace(role=Role.VIEWER)

    listed = client.get("/api/v1/live-codes", headers=viewer.headers)
    created = client.post(
        "/api/v1/live-codes",
        headers=viewer.headers,
        json={"name": "码", "channel": "渠道", "staff": [{"staff_id": 1}]},
    )

    assert listed.status_code == 200
    assert created.status_code == 403


def test_codes_of_another_workspace_are_not_found(
    api: TestClient, corp: Corp, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    code = create_code(api, [{"staff_id": corp.staff_ids[0]}])
    other = make_workspace()

    for method, path in [
        ("GET", f"/api/v1/live-codes/{code['id']}"),
        ("GET", f"/api/v1/live-codes/{code['id']}/stats"),
        ("GET", f"/api/v1/live-codes/{code['id']}/qr"),
        ("DELETE", f"/api/v1/live-codes/{code['id']}"),
    ]:
        assert client.request(method, path, headers=other.headers).status_code == 404
    assert client.get("/api/v1/live-codes", headers=other.headers).json() == []


def test_default_welcome_is_kept_per_workspace(api: TestClient) -> None:
    saved = api.put(
        "/api/v1/live-codes/default-welcome",
        json={"text": "欢迎 {客户昵称}", "attachments": []},
    )
    too_long = api.put("/api/v1/live-codes/default-welcome", json={"text": "欢" * 1334})

    assert saved.status_code == 200
    assert api.get("/api/v1/live-codes/default-welcome").json()["text"] == "欢迎 {客户昵称}"
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"]["field"] == "welcome.text"


def _statements_for_list(api: TestClient, engine: Engine) -> tuple[int, int]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        listed = api.get("/api/v1/live-codes").json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(listed), len(statements)


def test_listing_codes_takes_the_same_queries_for_one_code_or_many(
    api: TestClient, corp: Corp, engine: Engine
) -> None:
    create_code(api, [{"staff_id": corp.staff_ids[0]}])
    one = _statements_for_list(api, engine)
    for staff_id in corp.staff_ids[1:]:
        create_code(
            api, [{"staff_id": staff_id}, {"staff_id": corp.staff_ids[0], "is_backup": True}]
        )
    many = _statements_for_list(api, engine)

    assert (one[0], many[0]) == (1, 3)
    assert many[1] == one[1]
