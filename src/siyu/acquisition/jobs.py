"""Background work of the acquisition domain: welcome messages and live code rosters."""

from typing import Any

from siyu.acquisition import roster, service, welcome
from siyu.connectors.wecom.clients import release_before_calls
from siyu.worker.context import JobContext
from siyu.worker.registry import job


@job(service.SEND_WELCOME_JOB, max_attempts=3)
async def send_welcome(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Runs in the realtime lane: WeCom's welcome code expires 20 seconds after the add."""
    assert ctx.workspace_id is not None
    release_before_calls(ctx.session, ctx.checkpoint)
    status = await welcome.send_welcome(ctx.session, ctx.workspace_id, payload["add_id"])
    return {"welcome_status": status}


@job(service.AFTER_ADD_JOB, max_attempts=5)
async def after_add(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    assert ctx.workspace_id is not None
    release_before_calls(ctx.session, ctx.checkpoint)
    return await welcome.after_add(
        ctx.session,
        ctx.workspace_id,
        payload["add_id"],
        payload.get("remark"),
        list(payload.get("tag_ids") or []),
    )


@job(roster.REFRESH_JOB, max_attempts=1)
async def refresh_live_codes(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
    """Every minute: schedule boundaries and caps may change who is on duty."""
    assert ctx.workspace_id is not None
    release_before_calls(ctx.session, ctx.checkpoint)
    return await roster.refresh_codes(ctx.session, ctx.workspace_id)
