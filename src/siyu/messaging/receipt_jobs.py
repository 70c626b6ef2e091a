"""The pull fallback of SMS delivery reports: QuerySendDetails for what no push settled.

Installation-wide and periodic: each run takes the oldest SMS deliveries of every
workspace still `sent` more than `older_than_minutes` after they left (and at most
`MAX_AGE` ago: carriers give up on a message after three days), asks Aliyun with each
workspace's own account, and records the outcomes like a push would.
"""

from datetime import timedelta
from typing import Any

from siyu.exceptions import ValidationFailed
from siyu.kit.time import utcnow
from siyu.messaging import receipts, sending
from siyu.messaging.schemas import Channel
from siyu.worker.context import JobContext
from siyu.worker.registry import job

PULL_JOB = "messaging.pull_sms_receipts"
DEFAULT_OLDER_THAN_MINUTES = 30
MAX_AGE = timedelta(days=3)
ROWS_PER_RUN = 2000


@job(PULL_JOB, max_attempts=3)
async def pull_sms_receipts(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    now = utcnow()
    older_than = timedelta(
        minutes=int(payload.get("older_than_minutes", DEFAULT_OLDER_THAN_MINUTES))
    )
    rows = receipts.unreported(
        session,
        sent_before=now - older_than,
        sent_after=now - MAX_AGE,
        limit=int(payload.get("limit", ROWS_PER_RUN)),
    )
    by_workspace: dict[int, list[receipts.Unreported]] = {}
    for row in rows:
        by_workspace.setdefault(row.workspace_id, []).append(row)
    accounts: dict[int, tuple[dict[str, Any], str]] = {}
    for workspace_id in by_workspace:
        try:
            accounts[workspace_id] = sending.account_of(session, workspace_id, Channel.SMS.value)
        except ValidationFailed:
            continue  # the account was removed or disabled: nobody to ask
    # Release SQLite's write lock while Aliyun answers.
    ctx.checkpoint()
    pulled: dict[int, receipts.PullResult] = {}
    for workspace_id, (config, secret) in accounts.items():
        async with sending.sms_client(config, secret) as client:
            pulled[workspace_id] = await receipts.query_receipts(client, by_workspace[workspace_id])
    tally = receipts.Tally()
    errors = 0
    last_error = None
    for workspace_id, result in pulled.items():
        tally.add(receipts.apply_receipts(session, workspace_id, result.receipts))
        errors += result.errors
        last_error = result.last_error or last_error
    return {
        "checked": len(rows),
        "no_account": len(rows) - sum(len(by_workspace[w]) for w in accounts),
        "waiting": sum(r.waiting for r in pulled.values()),
        "errors": errors,
        "last_error": last_error,
        **tally.as_dict(),
    }
