"""Work that finishes later: members sending mass messages, transfers completing."""

import calendar
from datetime import datetime, timedelta, timezone

from siyu.connectors.wecom_sim.actions import ActionError, contact_event
from siyu.connectors.wecom_sim.seed import add_follow
from siyu.connectors.wecom_sim.state import SimState

CHINA = timezone(timedelta(hours=8))


def _quota(state: SimState) -> int:
    if state.config.monthly_mass_quota is not None:
        return state.config.monthly_mass_quota
    today = datetime.fromtimestamp(state.now(), tz=CHINA)
    return calendar.monthrange(today.year, today.month)[1]


def _month(timestamp: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(timestamp, tz=CHINA)
    return moment.year, moment.month


def _received_this_month(state: SimState, *, external_userid: str = "", chat_id: str = "") -> int:
    """Mass messages a customer (or a group) received this month: the quota counts both."""
    this_month = _month(state.now())
    return sum(
        1
        for task in state.mass_tasks.values()
        for send in task.sends
        if (send.external_userid, send.chat_id) == (external_userid, chat_id)
        and send.status == 1
        and _month(send.send_time) == this_month
    )


def _not_a_friend(state: SimState, userid: str, external_userid: str) -> bool:
    follow = state.follows.get((userid, external_userid))
    return follow is None or follow.deleted_by_customer


def confirm_mass_message(state: SimState, msgid: str, userid: str) -> dict[str, int]:
    """The member taps send in the client: each recipient is sent, or fails with a reason."""
    with state.lock:
        task = state.mass_tasks.get(msgid)
        if task is None or userid not in task.tasks:
            raise ActionError("no such task for that member")
        if task.tasks[userid][0] == 2:
            raise ActionError("already sent")
        if task.cancelled:
            raise ActionError("the corp cancelled this task")
        now = state.now_int()
        task.tasks[userid] = (2, now)
        counts = {"sent": 0, "not_friend": 0, "over_quota": 0}
        quota = _quota(state)
        for send in task.sends:
            if send.userid != userid:
                continue
            send.send_time = now
            if send.chat_id:
                if send.chat_id not in state.groups:
                    send.status = 2
                elif _received_this_month(state, chat_id=send.chat_id) >= quota:
                    send.status = 3
                else:
                    send.status = 1
            elif _not_a_friend(state, userid, send.external_userid):
                send.status = 2
            elif _received_this_month(state, external_userid=send.external_userid) >= quota:
                send.status = 3
            else:
                send.status = 1
            key = {1: "sent", 2: "not_friend", 3: "over_quota"}[send.status]
            counts[key] += 1
        return counts


def settle_transfers(state: SimState) -> None:
    """Finish every transfer whose takeover time has passed (the 24 h wait)."""
    with state.lock:
        now = state.now()
        for transfer in state.transfers:
            if transfer.status != 2 or transfer.takeover_time > now:
                continue
            transfer.status = transfer.outcome
            key = (transfer.handover_userid, transfer.external_userid)
            if transfer.outcome != 1:
                reason = "customer_refused" if transfer.outcome == 3 else "customer_limit_exceed"
                contact_event(
                    state,
                    "transfer_fail",
                    {
                        "UserID": transfer.takeover_userid,
                        "ExternalUserID": transfer.external_userid,
                        "FailReason": reason,
                    },
                )
                continue
            old = state.follows.pop(key, None)
            if transfer.kind == "onjob" and old is not None:
                contact_event(
                    state,
                    "del_external_contact",
                    {
                        "UserID": transfer.handover_userid,
                        "ExternalUserID": transfer.external_userid,
                        "Source": "DELETE_BY_TRANSFER",
                    },
                )
            if (transfer.takeover_userid, transfer.external_userid) in state.follows:
                continue
            follow = add_follow(
                state,
                transfer.takeover_userid,
                transfer.external_userid,
                add_way=202,
                state_value=old.state if old else "",
                tag_ids=old.tag_ids if old else [],
                remark=old.remark if old else "",
            )
            follow.oper_userid = transfer.handover_userid
            contact_event(
                state,
                "add_external_contact",
                {"UserID": transfer.takeover_userid, "ExternalUserID": transfer.external_userid},
            )


def decide_transfer(state: SimState, external_userid: str, outcome: int) -> None:
    """Decide how the waiting transfer of a customer will end: 1 done, 3 refused, 4 limit."""
    with state.lock:
        waiting = [
            t for t in state.transfers if t.external_userid == external_userid and t.status == 2
        ]
        if not waiting or outcome not in (1, 3, 4):
            raise ActionError("no waiting transfer for that customer, or a bad outcome")
        for transfer in waiting:
            transfer.outcome = outcome
