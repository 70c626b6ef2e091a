"""gettoken (protocol.md §1): one token per secret, valid for `token_ttl` seconds."""

from typing import Any

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import BOTH, Params, api
from siyu.connectors.wecom_sim.state import SimState


@api("gettoken", "GET", BOTH, needs_token=False)
def gettoken(state: SimState, params: Params) -> dict[str, Any]:
    corpid = params.get("corpid")
    secret = params.get("corpsecret")
    if not corpid:
        raise ApiError(41002)
    if corpid != state.corp_id:
        raise ApiError(40013)
    if not secret:
        raise ApiError(41004)
    kind = state.secrets.get(str(secret))
    if kind is None:
        raise ApiError(40001)
    token = state.issue_token(kind)
    return {"access_token": token.value, "expires_in": state.config.token_ttl}
