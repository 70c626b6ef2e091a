"""Per-number flow control as Aliyun applies it (isv.BUSINESS_LIMIT_CONTROL).

Verification codes count per sign and number; notifications and marketing per sign,
template and number. Windows roll (a "day" is the 24 hours before the send), and a
message counts once it is accepted, whatever its receipt says.
"""

from collections import deque

from siyu.connectors.aliyun_sms_sim.errors import ApiError
from siyu.connectors.aliyun_sms_sim.state import SimState, Template


def _key(sign_name: str, template: Template, phone: str) -> tuple[str, ...]:
    if template.template_type == 0:
        return ("code", sign_name, phone)
    return (str(template.template_type), sign_name, template.template_code, phone)


def check_flow(state: SimState, sign_name: str, template: Template, phone: str) -> None:
    limits = state.config.flow_limits.get(template.template_type, ())
    if not limits:
        return
    now = state.now()
    window = state.sends.get(_key(sign_name, template, phone), deque())
    longest = max(limit.seconds for limit in limits)
    while window and window[0] <= now - longest:
        window.popleft()
    for limit in limits:
        used = sum(1 for sent in window if sent > now - limit.seconds)
        if used >= limit.permits:
            raise ApiError(
                "isv.BUSINESS_LIMIT_CONTROL", f"触发{limit.label}流控Permits:{limit.permits}"
            )


def record_flow(state: SimState, sign_name: str, template: Template, phone: str) -> None:
    state.sends.setdefault(_key(sign_name, template, phone), deque()).append(state.now())
