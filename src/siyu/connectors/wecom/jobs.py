"""The inbox jobs: hand one stored callback to its event handler (realtime lane), and the
daily sweep of processed callbacks past their retention."""

import logging
import traceback
from datetime import timedelta
from typing import Any

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.clients import release_before_calls
from siyu.connectors.wecom.events import EventParseError, handler_for, parse_event
from siyu.kit.time import utcnow
from siyu.worker.context import JobContext
from siyu.worker.registry import job
from siyu.worker.schedules import WECOM_SWEEP_INBOX_JOB

log = logging.getLogger(__name__)

PROCESS_CALLBACK = "wecom.process_callback"


@job(PROCESS_CALLBACK)
async def process_callback(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Mark the callback processed, ignored (no handler) or failed (kept with its error).

    A handler error is recorded on the callback and re-raised, so the job retries with
    backoff; a payload that does not parse fails at once, as a retry cannot fix it.
    """
    assert ctx.workspace_id is not None
    session = ctx.session
    release_before_calls(session, ctx.checkpoint)
    callback = inbox.callback(session, ctx.workspace_id, int(payload["callback_id"]))
    if callback is None:
        return {"status": "missing"}
    if callback.status in ("processed", "ignored"):
        return {"status": callback.status}
    try:
        event = parse_event(callback.raw_xml.encode("utf-8"))
    except EventParseError as exc:
        callback.status = "failed"
        callback.error = str(exc)
        callback.processed_at = utcnow()
        log.warning("WeCom callback %s does not parse: %s", callback.id, exc)
        return {"status": "failed", "error": str(exc)}
    handler = handler_for(event)
    if handler is None:
        callback.status = "ignored"
        callback.processed_at = utcnow()
        log.info(
            "WeCom callback %s ignored: no handler for %s/%s",
            callback.id,
            event.event,
            event.change_type,
        )
        return {"status": "ignored"}
    try:
        await handler(session, ctx.workspace_id, event)
    except Exception as exc:
        # The handler's writes since its last WeCom call roll back (those before it were
        # committed; a retry re-reads WeCom and converges); the error mark commits so the
        # console shows it.
        session.rollback()
        callback.status = "failed"
        callback.error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
        callback.processed_at = utcnow()
        ctx.checkpoint()
        raise
    callback.status = "processed"
    callback.error = None
    callback.processed_at = utcnow()
    return {"status": "processed", "event": event.event, "change_type": event.change_type}


SWEEP_BATCH = 1000


@job(WECOM_SWEEP_INBOX_JOB, max_attempts=3)
def sweep_inbox(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
    """Delete processed and ignored callbacks received more than `retention_days` ago, and
    refused-callback counts of days before then, a batch per short transaction (the callback
    endpoint keeps writing meanwhile). Failed callbacks stay until someone looks at them."""
    days = int(payload.get("retention_days", 30))
    cutoff = utcnow() - timedelta(days=days)
    session = ctx.session
    callbacks = refusals = 0
    for workspace_id in inbox.workspace_ids(session):
        while ids := inbox.old_callback_ids(
            session, workspace_id, received_before=cutoff, limit=SWEEP_BATCH
        ):
            callbacks += inbox.delete_callbacks(session, workspace_id, ids)
            ctx.checkpoint()
        refusals += inbox.delete_refusals(session, workspace_id, before=cutoff.date())
        ctx.checkpoint()
    if callbacks or refusals:
        log.info(
            "WeCom inbox sweep removed %s callbacks and %s refusal counts", callbacks, refusals
        )
    return {"callbacks_removed": callbacks, "refusals_removed": refusals}
