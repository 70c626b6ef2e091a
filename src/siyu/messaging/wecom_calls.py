"""The WeCom client broadcasts call with, within the workspace's share of WeCom's limits.

WeCom counts each API's calls per corp (10,000 a minute). A corp whose other tools use the
same APIs sets `MessagingRules.wecom_calls_per_minute`, and broadcasts then make at most
that many calls a minute of each API they use, in all workers together.
"""

from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import client_for
from siyu.kit.ratelimit import RateLimit, Window, WindowLimit
from siyu.messaging import rules as messaging_rules

MINUTE = 60
BROADCAST_APIS = (
    "externalcontact/add_msg_template",
    "externalcontact/get_groupmsg_list_v2",
    "externalcontact/get_groupmsg_task",
    "externalcontact/get_groupmsg_send_result",
    "externalcontact/remind_groupmsg_send",
    "externalcontact/cancel_groupmsg_send",
)


def per_minute(limit: RateLimit, calls: int) -> RateLimit:
    """`limit` with at most `calls` a minute (its other windows kept)."""
    minute = Window(calls, MINUTE)
    if isinstance(limit, WindowLimit):
        return WindowLimit((minute, *(w for w in limit.windows if w.seconds != MINUTE)))
    return WindowLimit((minute,))


def broadcast_client(session: Session, workspace_id: int) -> WecomClient:
    """The workspace's WeCom client, its broadcast APIs limited as its rules say."""
    client = client_for(session, workspace_id)
    calls = messaging_rules.read(session, workspace_id).wecom_calls_per_minute
    if calls is not None:
        for path in BROADCAST_APIS:
            client.limits[path] = per_minute(client.limit_for(path), calls)
    return client
