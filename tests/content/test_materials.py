"""The materials library over HTTP: kinds, uploads, groups, tags, search, paging, roles."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.content.storage import content_key
from siyu.db.session import unit_of_work
from siyu.models import AuditEntry, Material
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.content.materials_helpers import MP4, PDF, create, create_image, jpeg, png


def _key(engine: Engine, workspace: WorkspaceFixture, role: Role) -> dict[str, str]:
    with unit_of_work(engine) as session:
        key = workspace_service.create_api_key(
            session, workspace_id=workspace.id, name=role.value, role=role
        )
        return {"Authorization": f"Bearer {key.plaintext}"}


def test_every_kind_is_created_with_the_fields_it_needs(api: TestClient) -> None:
    text = create(api, "text", "开场白", content="您好，我是您的专属顾问 {客户昵称}")
    image = create_image(api)
    link = create(
        api,
        "link",
        "新品上市",
        url="https://shop.example.com/new",
        description="春季限定",
        cover=("cover.jpg", jpeg(), "image/jpeg"),
    )
    card = create(
        api,
        "miniprogram",
        "会员中心",
        appid="wx1234567890abcdef",
        page_path="pages/member/index",
        cover=("cover.png", png(), "image/png"),
    )
    document = create(api, "file", "价目表", file=("价目表.pdf", PDF, "application/pdf"))
    video = create(api, "video", "使用教程", file=("guide.mp4", MP4, "video/mp4"))

    assert text["content"].startswith("您好")
    assert (image["width"], image["height"], image["content_type"]) == (64, 48, "image/png")
    assert link["url"] == "https://shop.example.com/new"
    assert link["has_cover"]
    assert not link["has_file"]
    assert card["appid"] == "wx1234567890abcdef"
    assert card["has_thumbnail"]
    assert document["filename"] == "价目表.pdf"
    assert document["content_type"] == "application/pdf"
    assert video["content_type"] == "video/mp4"


@pytest.mark.parametrize(
    ("kind", "fields", "files", "field"),
    [
        ("text", {}, {}, "content"),
        ("image", {}, {}, "file"),
        ("link", {"url": "ftp://example.com"}, {}, "url"),
        ("miniprogram", {"appid": "123", "page_path": "pages/a"}, {}, "appid"),
        ("miniprogram", {"appid": "wx1234567890abcdef", "page_path": "p"}, {}, "cover"),
        ("image", {}, {"file": ("a.gif", b"GIF89a......", "image/gif")}, "file"),
        ("image", {}, {"file": ("a.png", PDF, "image/png")}, "file"),
        (
            "file",
            {},
            {"file": ("a.exe", b"MZ\x90\x00\x03\x00\x00", "application/x-msdownload")},
            "file",
        ),
        ("video", {}, {"file": ("a.mp4", PDF, "video/mp4")}, "file"),
        ("text", {"content": "x"}, {"file": ("a.pdf", PDF, "application/pdf")}, "file"),
        (
            "link",
            {"url": "https://a.example"},
            {"cover": ("c.pdf", PDF, "application/pdf")},
            "cover",
        ),
    ],
)
def test_a_missing_or_wrong_field_or_file_is_refused_naming_it(
    api: TestClient,
    kind: str,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes, str]],
    field: str,
) -> None:
    response = api.post(
        "/api/v1/materials", data={"kind": kind, "title": "t", **fields}, files=files or None
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field


def test_a_file_over_the_kinds_limit_is_refused_with_413(api: TestClient) -> None:
    big_image = b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)
    response = api.post(
        "/api/v1/materials",
        data={"kind": "image", "title": "大图"},
        files={"file": ("big.png", big_image, "image/png")},
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"]["field"] == "file"
    assert "10 MB" in response.json()["error"]["message"]


def test_identical_uploads_are_stored_once(
    api: TestClient, workspace: WorkspaceFixture, db: Session
) -> None:
    first = create_image(api, "一")
    second = create_image(api, "二")
    keys = db.scalars(select(Material.file_key).where(Material.id.in_([first["id"], second["id"]])))
    assert set(keys) == {content_key(workspace.id, png())}


def test_download_returns_the_stored_file_with_its_name(api: TestClient) -> None:
    document = create(api, "file", "价目表", file=("价目表.pdf", PDF, "application/pdf"))

    response = api.get(f"/api/v1/materials/{document['id']}/download")

    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert (
        "filename*=UTF-8''%E4%BB%B7%E7%9B%AE%E8%A1%A8.pdf"
        in response.headers["content-disposition"]
    )


def test_cover_download_and_thumbnail_of_a_link(api: TestClient) -> None:
    cover = jpeg(800, 600)
    link = create(
        api, "link", "新品", url="https://a.example", cover=("c.jpg", cover, "image/jpeg")
    )

    assert api.get(f"/api/v1/materials/{link['id']}/download?part=cover").content == cover
    assert api.get(f"/api/v1/materials/{link['id']}/download").status_code == 404
    thumb = api.get(f"/api/v1/materials/{link['id']}/thumbnail")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content.startswith(b"\xff\xd8\xff")
    assert len(thumb.content) < len(cover)


def test_groups_tags_and_search_filter_the_list(api: TestClient) -> None:
    group = api.post("/api/v1/material-groups", json={"name": "春季活动"}).json()
    in_group = create(
        api,
        "text",
        "春季开场白",
        content="春天好",
        material_group_id=group["id"],
        tags=["春季", "开场"],
    )
    tagged = create(api, "text", "秋季话术", content="秋天好", tags=["开场"], description="含春字")
    image = create_image(api, "海报底图")

    def ids(**params: str | int) -> list[int]:
        response = api.get("/api/v1/materials", params=params)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert ids(material_group_id=group["id"]) == [in_group["id"]]
    assert ids(tag="开场") == [tagged["id"], in_group["id"]]
    assert ids(kind="image") == [image["id"]]
    assert ids(q="春") == [tagged["id"], in_group["id"]]
    assert ids(q="%") == []
    groups = api.get("/api/v1/material-groups").json()
    assert [(g["name"], g["material_count"]) for g in groups] == [("春季活动", 1)]
    tags = api.get("/api/v1/materials/tags").json()
    assert tags[0] == {"name": "开场", "count": 2}


def test_the_list_pages_by_cursor_without_repeats(api: TestClient) -> None:
    made = [create(api, "text", f"话术{i}", content="x")["id"] for i in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "sort": "title"}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/v1/materials", params=params).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made


def test_patch_changes_fields_tags_and_group(api: TestClient) -> None:
    group = api.post("/api/v1/material-groups", json={"name": "门店"}).json()
    material = create(api, "link", "旧标题", url="https://a.example", tags=["旧"])

    response = api.patch(
        f"/api/v1/materials/{material['id']}",
        json={"title": "新标题", "tags": ["新", "新", " 热门 "], "material_group_id": group["id"]},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["title"], body["tags"], body["material_group_id"]) == (
        "新标题",
        ["新", "热门"],
        group["id"],
    )
    assert [m["id"] for m in api.get("/api/v1/materials?tag=旧").json()["items"]] == []
    bad = api.patch(f"/api/v1/materials/{material['id']}", json={"url": "javascript:alert(1)"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "url"
    ungrouped = api.patch(f"/api/v1/materials/{material['id']}", json={"material_group_id": None})
    assert ungrouped.json()["material_group_id"] is None


def test_replacing_the_file_changes_the_download(api: TestClient) -> None:
    image = create_image(api)
    other = jpeg(30, 20)

    response = api.put(
        f"/api/v1/materials/{image['id']}/file", files={"file": ("new.jpg", other, "image/jpeg")}
    )

    assert response.status_code == 200, response.text
    assert (response.json()["width"], response.json()["content_type"]) == (30, "image/jpeg")
    assert api.get(f"/api/v1/materials/{image['id']}/download").content == other


def test_deleting_a_group_keeps_its_materials_and_is_audited(api: TestClient, db: Session) -> None:
    group = api.post("/api/v1/material-groups", json={"name": "临时"}).json()
    material = create(api, "text", "话术", content="x", material_group_id=group["id"])

    assert api.delete(f"/api/v1/material-groups/{group['id']}").status_code == 204

    assert api.get(f"/api/v1/materials/{material['id']}").json()["material_group_id"] is None
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "material_group.delete")).one()
    assert entry.target_id == str(group["id"])


def test_a_duplicate_group_name_is_a_conflict(api: TestClient) -> None:
    assert api.post("/api/v1/material-groups", json={"name": "同名"}).status_code == 201
    response = api.post("/api/v1/material-groups", json={"name": "同名"})
    assert response.status_code == 409


def test_delete_removes_the_material_and_is_audited(api: TestClient, db: Session) -> None:
    image = create_image(api)

    assert api.delete(f"/api/v1/materials/{image['id']}").status_code == 204

    assert api.get(f"/api/v1/materials/{image['id']}").status_code == 404
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "material.delete")).one()
    assert (entry.target_id, entry.details["kind"]) == (str(image["id"]), "image")


def test_viewers_read_and_operators_edit(
    api: TestClient, client: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    image = create_image(api)
    viewer = _key(engine, workspace, Role.VIEWER)
    operator = _key(engine, workspace, Role.OPERATOR)

    assert client.get("/api/v1/materials", headers=viewer).status_code == 200
    assert (
        client.get(f"/api/v1/materials/{image['id']}/download", headers=viewer).status_code == 200
    )
    refused: list[Callable[[dict[str, str]], int]] = [
        lambda h: (
            client.post(
                "/api/v1/materials", data={"kind": "text", "title": "t", "content": "x"}, headers=h
            ).status_code
        ),
        lambda h: (
            client.patch(
                f"/api/v1/materials/{image['id']}", json={"title": "x"}, headers=h
            ).status_code
        ),
        lambda h: client.post("/api/v1/material-groups", json={"name": "g"}, headers=h).status_code,
    ]
    assert [call(viewer) for call in refused] == [403, 403, 403]
    assert [call(operator) for call in refused] == [201, 200, 201]
    assert client.delete(f"/api/v1/materials/{image['id']}", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/materials/{image['id']}", headers=operator).status_code == 204


def test_another_workspaces_material_and_group_are_not_found(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    image = create_image(api)
    group = api.post("/api/v1/material-groups", json={"name": "甲的分组"}).json()
    other = make_workspace()

    for method, path in (
        ("GET", f"/api/v1/materials/{image['id']}"),
        ("GET", f"/api/v1/materials/{image['id']}/download"),
        ("DELETE", f"/api/v1/materials/{image['id']}"),
        ("DELETE", f"/api/v1/material-groups/{group['id']}"),
    ):
        assert client.request(method, path, headers=other.headers).status_code == 404
    into_foreign_group = client.post(
        "/api/v1/materials",
        data={"kind": "text", "title": "t", "content": "x", "material_group_id": group["id"]},
        headers=other.headers,
    )
    assert into_foreign_group.status_code == 404
    listed = client.get("/api/v1/materials", headers=other.headers).json()
    assert listed["items"] == []
