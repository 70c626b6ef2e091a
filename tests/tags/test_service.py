import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.exceptions import NotFound, ValidationFailed
from siyu.models import TagChange
from siyu.tags import service
from siyu.tags.service import TagSource
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.tags.conftest import MakeCustomers


def _history_count(db: Session, workspace_id: int) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(TagChange)
            .where(TagChange.workspace_id == workspace_id)
        )
        or 0
    )


def test_ensure_tags_creates_missing_groups_and_tags_once(
    db: Session, workspace: WorkspaceFixture
) -> None:
    first = service.ensure_tags(
        db, workspace.id, [("等级", "VIP"), ("等级", "普通"), ("来源", "抖音")]
    )
    again = service.ensure_tags(db, workspace.id, [(" 等级 ", "VIP"), ("来源", "抖音")])

    assert again[(" 等级 ", "VIP")] == first[("等级", "VIP")]
    assert again[("来源", "抖音")] == first[("来源", "抖音")]
    groups = service.list_groups(db, workspace.id)
    assert [g.name for g in groups] == ["来源", "等级"]
    assert {t.name for t in groups[1].tags} == {"VIP", "普通"}


def test_ensure_tags_refuses_empty_names(db: Session, workspace: WorkspaceFixture) -> None:
    with pytest.raises(ValidationFailed) as raised:
        service.ensure_tags(db, workspace.id, [("等级", "VIP"), ("等级", "  ")])
    assert raised.value.field == "names[1]"


def test_adding_twice_keeps_first_assignment_and_records_history_once(
    db: Session, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    customers = make_customers(workspace.id, 3)
    ids = service.ensure_tags(db, workspace.id, [("等级", "VIP"), ("等级", "新客")])
    vip, new = ids[("等级", "VIP")], ids[("等级", "新客")]

    added = service.add_tags(db, workspace.id, customers, [vip], source="import", actor="import:1")
    again = service.add_tags(db, workspace.id, customers, [vip, new], source="manual", actor="u")

    assert added == 3
    assert again == 3  # only the three 新客 assignments are new
    assert _history_count(db, workspace.id) == 6
    tags = {t.tag_name: t for t in service.tags_of(db, workspace.id, customers[0])}
    assert tags["VIP"].source == TagSource.IMPORT
    assert tags["VIP"].actor == "import:1"
    assert tags["新客"].source == TagSource.MANUAL
    assert tags["VIP"].group_name == "等级"


def test_removing_absent_tags_changes_nothing_and_writes_no_history(
    db: Session, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    customers = make_customers(workspace.id, 2)
    vip = service.ensure_tags(db, workspace.id, [("等级", "VIP")])[("等级", "VIP")]
    service.add_tags(db, workspace.id, customers[:1], [vip], source="rule", actor="rule:7")

    removed = service.remove_tags(db, workspace.id, customers, [vip], source="manual", actor="u")
    removed_again = service.remove_tags(
        db, workspace.id, customers, [vip], source="manual", actor="u"
    )

    assert (removed, removed_again) == (1, 0)
    actions = db.scalars(
        select(TagChange.action)
        .where(TagChange.workspace_id == workspace.id)
        .order_by(TagChange.id)
    ).all()
    assert actions == ["add", "remove"]
    assert service.tags_of(db, workspace.id, customers[0]) == []


def test_tags_and_customers_of_another_workspace_are_not_found(
    db: Session,
    workspace: WorkspaceFixture,
    make_workspace: MakeWorkspace,
    make_customers: MakeCustomers,
) -> None:
    other = make_workspace()
    mine = make_customers(workspace.id, 1)
    theirs = make_customers(other.id, 1)
    my_tag = service.ensure_tags(db, workspace.id, [("等级", "VIP")])[("等级", "VIP")]
    their_tag = service.ensure_tags(db, other.id, [("等级", "VIP")])[("等级", "VIP")]

    with pytest.raises(NotFound):
        service.add_tags(db, workspace.id, mine, [their_tag], source="manual", actor="u")
    with pytest.raises(NotFound):
        service.add_tags(db, workspace.id, theirs, [my_tag], source="manual", actor="u")
    with pytest.raises(NotFound):
        service.remove_tags(db, workspace.id, theirs, [my_tag], source="manual", actor="u")
    assert _history_count(db, workspace.id) == 0


def test_unknown_source_is_refused(
    db: Session, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    customers = make_customers(workspace.id, 1)
    vip = service.ensure_tags(db, workspace.id, [("等级", "VIP")])[("等级", "VIP")]
    with pytest.raises(ValidationFailed) as raised:
        service.add_tags(db, workspace.id, customers, [vip], source="magic", actor="u")
    assert raised.value.field == "source"


def test_timeline_entries_page_newest_first(
    db: Session, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    [customer] = make_customers(workspace.id, 1)
    ids = service.ensure_tags(db, workspace.id, [("兴趣", "咖啡"), ("兴趣", "茶")])
    coffee, tea = ids[("兴趣", "咖啡")], ids[("兴趣", "茶")]
    service.add_tags(db, workspace.id, [customer], [coffee], source="manual", actor="u")
    service.add_tags(db, workspace.id, [customer], [tea], source="wecom", actor="wecom")
    service.remove_tags(db, workspace.id, [customer], [coffee], source="manual", actor="u")

    first = service.timeline_entries(db, workspace.id, customer, before=None, limit=2)
    rest = service.timeline_entries(db, workspace.id, customer, before=first[-1].cursor, limit=2)

    entries = first + rest
    assert [e.kind for e in entries] == ["tag_change"] * 3
    assert [(e.data["action"], e.data["tag_name"]) for e in entries] == [
        ("remove", "兴趣/咖啡"),
        ("add", "兴趣/茶"),
        ("add", "兴趣/咖啡"),
    ]
    assert entries[0].title == "移除标签 兴趣/咖啡"
    assert [e.occurred_at for e in entries] == sorted(
        (e.occurred_at for e in entries), reverse=True
    )


def test_top_tags_counts_customers_per_tag(
    db: Session, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    customers = make_customers(workspace.id, 3)
    ids = service.ensure_tags(db, workspace.id, [("兴趣", "咖啡"), ("兴趣", "茶"), ("兴趣", "酒")])
    coffee, tea = ids[("兴趣", "咖啡")], ids[("兴趣", "茶")]
    service.add_tags(db, workspace.id, customers, [coffee], source="manual", actor="u")
    service.add_tags(db, workspace.id, customers[:1], [tea], source="manual", actor="u")

    assert service.top_tags(db, workspace.id, 5) == [(coffee, "咖啡", 3), (tea, "茶", 1)]
