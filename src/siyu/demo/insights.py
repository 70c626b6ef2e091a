"""Demo insights: features and RFM computed, and a few segments an operator would build."""

from typing import Any

from sqlalchemy.orm import Session

from siyu.analytics import features, rfm
from siyu.analytics.feature_jobs import ROLLED_ON
from siyu.demo.people import Loaded
from siyu.segments import service as segments_service
from siyu.segments.schemas import SegmentIn
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service


def _segments(green_tea: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (
            "重要价值客户",
            "RFM 八类中的重要价值客户，做会员日专属权益",
            {"type": "rfm", "op": "class_in", "classes": ["important_value"]},
        ),
        (
            "近30天浏览绿茶3次以上",
            "对绿茶感兴趣但还没复购的人",
            {
                "type": "event",
                "event_type": "product_view",
                "op": "at_least",
                "count": 3,
                "within_days": 30,
                "where": [{"property": "category", "op": "eq", "value": "绿茶"}],
            },
        ),
        (
            "绿茶爱好者·仍是企微好友",
            "带绿茶兴趣标签、仍是企业微信好友、未退订",
            {
                "all": [
                    {"type": "tag", "op": "has_any", "tag_ids": [green_tea]},
                    {"type": "follow", "op": "has", "status": "active"},
                    {"type": "subscription", "op": "not_opted_out", "channel": "wecom"},
                ]
            },
        ),
    ]


def load_segments(session: Session, loaded: Loaded) -> None:
    workspace_id = loaded.workspace_id
    calendar = segments_service.context(session, workspace_id)
    for first, last in features.id_ranges(session, workspace_id):
        features.refresh_range(session, calendar, first, last)
    rfm.score(session, calendar)
    workspace = workspace_service.get_workspace(session, workspace_id)
    workspace.settings = {**workspace.settings, ROLLED_ON: calendar.today.isoformat()}
    green_tea = tags_service.ensure_tags(session, workspace_id, [("兴趣偏好", "绿茶")])
    for name, description, rule in _segments(green_tea[("兴趣偏好", "绿茶")]):
        segments_service.create_segment(
            session,
            loaded.principal,
            SegmentIn(name=name, description=description, kind="dynamic", rule=rule),
        )
