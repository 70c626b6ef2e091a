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

GOLD_AND_UP = "金卡及以上会员"
BUYERS_THIS_YEAR = "近一年有消费的会员"
GREEN_TEA_FRIENDS = "绿茶爱好者·仍是企微好友"
SEGMENT_TAGS = (("兴趣偏好", "绿茶"), ("客户等级", "金卡会员"), ("客户等级", "黑金会员"))


def _segments(tags: dict[tuple[str, str], int]) -> list[tuple[str, str, dict[str, Any]]]:
    green_tea = tags[("兴趣偏好", "绿茶")]
    gold = [tags[("客户等级", "金卡会员")], tags[("客户等级", "黑金会员")]]
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
            GREEN_TEA_FRIENDS,
            "带绿茶兴趣标签、仍是企业微信好友、未退订",
            {
                "all": [
                    {"type": "tag", "op": "has_any", "tag_ids": [green_tea]},
                    {"type": "follow", "op": "has", "status": "active"},
                    {"type": "subscription", "op": "not_opted_out", "channel": "wecom"},
                ]
            },
        ),
        (
            GOLD_AND_UP,
            "金卡和黑金会员：大促提前通知、专属权益",
            {"type": "tag", "op": "has_any", "tag_ids": gold},
        ),
        (
            BUYERS_THIS_YEAR,
            "一年内下过单的人，会员日积分兑换的主力",
            {"type": "profile", "field": "last_order_at", "op": "within_last_days", "value": 365},
        ),
    ]


def load_segments(session: Session, loaded: Loaded) -> dict[str, int]:
    """Scores, then the segments: returns their ids by name."""
    workspace_id = loaded.workspace_id
    calendar = segments_service.context(session, workspace_id)
    for first, last in features.id_ranges(session, workspace_id):
        features.refresh_range(session, calendar, first, last)
    rfm.score(session, calendar)
    workspace = workspace_service.get_workspace(session, workspace_id)
    workspace.settings = {**workspace.settings, ROLLED_ON: calendar.today.isoformat()}
    tags = tags_service.ensure_tags(session, workspace_id, list(SEGMENT_TAGS))
    return {
        name: segments_service.create_segment(
            session,
            loaded.principal,
            SegmentIn(name=name, description=description, kind="dynamic", rule=rule),
        ).id
        for name, description, rule in _segments(tags)
    }
