"""Background work of the materials library: WeCom media kept fresh."""

from typing import Any

from siyu.connectors.wecom.clients import find_connection
from siyu.content import wecom_media
from siyu.kit.time import utcnow
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue
from siyu.worker.registry import job
from siyu.worker.schedules import REFRESH_WECOM_MEDIA_JOB


@job(REFRESH_WECOM_MEDIA_JOB, max_attempts=3)
async def refresh_wecom_media(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    """Hourly: one run per workspace with media to refresh; that run uploads them again."""
    session = ctx.session
    if ctx.workspace_id is None:
        hour = utcnow().strftime("%Y%m%d%H")
        workspaces = wecom_media.workspaces_to_refresh(session)
        for workspace_id in workspaces:
            enqueue(
                session,
                REFRESH_WECOM_MEDIA_JOB,
                {},
                workspace_id=workspace_id,
                dedupe_key=f"{REFRESH_WECOM_MEDIA_JOB}:{workspace_id}:{hour}",
            )
        return {"queued": len(workspaces)}
    if find_connection(session, ctx.workspace_id) is None:
        return {"refreshed": 0, "failed": 0, "skipped": "no WeCom connection"}
    return await wecom_media.refresh_media(session, ctx.workspace_id)
