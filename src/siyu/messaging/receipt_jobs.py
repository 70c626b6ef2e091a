"""The pull fallback of SMS delivery reports: QuerySendDetails for what no push settled.

Installation-wide and periodic: each run walks the SMS deliveries of every workspace
still `sent` more than `older_than_minutes` after they left (and at most `MAX_AGE` ago:
carriers give up on a message after three days), a chunk at a time up to `limit` rows,
asks Aliyun with each workspace's own account, and records the outcomes like a push
would. Messages still waiting for their receipt are asked again on the next run. It also
settles the in-doubt SMS of cancelled broadcasts, which have no send pass to do it.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.exceptions import ValidationFailed
from siyu.kit.time import utcnow
from siyu.messaging import receipts, sending, sms_in_doubt
from siyu.messaging.schemas import Channel
from siyu.worker.context import JobContext
from siyu.worker.registry import job

PULL_JOB = "messaging.pull_sms_receipts"
DEFAULT_OLDER_THAN_MINUTES = 30
MAX_AGE = timedelta(days=3)
CHUNK = 500
ROWS_PER_RUN = 20_000
CANCELLED_PER_RUN = 50

Accounts = dict[int, tuple[dict[str, Any], str] | None]


def _accounts(session: Session, workspace_ids: set[int], known: Accounts) -> None:
    for workspace_id in workspace_ids - known.keys():
        try:
            known[workspace_id] = sending.account_of(session, workspace_id, Channel.SMS.value)
        except ValidationFailed:
            known[workspace_id] = None  # the account was removed or disabled: nobody to ask


@job(PULL_JOB, max_attempts=3)
async def pull_sms_receipts(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    now = utcnow()
    older_than = timedelta(
        minutes=int(payload.get("older_than_minutes", DEFAULT_OLDER_THAN_MINUTES))
    )
    limit = int(payload.get("limit", ROWS_PER_RUN))
    accounts: Accounts = {}
    tally = receipts.Tally()
    counts = {"checked": 0, "no_account": 0, "waiting": 0, "errors": 0}
    last_error = None
    after_id = 0
    while counts["checked"] < limit:
        rows = receipts.unreported(
            session,
            sent_before=now - older_than,
            sent_after=now - MAX_AGE,
            after_id=after_id,
            limit=min(CHUNK, limit - counts["checked"]),
        )
        if not rows:
            break
        after_id = rows[-1].id
        counts["checked"] += len(rows)
        by_workspace: dict[int, list[receipts.Unreported]] = {}
        for row in rows:
            by_workspace.setdefault(row.workspace_id, []).append(row)
        _accounts(session, set(by_workspace), accounts)
        # Release SQLite's write lock while Aliyun answers.
        ctx.checkpoint()
        pulled: dict[int, receipts.PullResult] = {}
        for workspace_id, mine in by_workspace.items():
            account = accounts[workspace_id]
            if account is None:
                counts["no_account"] += len(mine)
                continue
            async with sending.sms_client(*account) as client:
                pulled[workspace_id] = await receipts.query_receipts(client, mine)
        for workspace_id, result in pulled.items():
            tally.add(receipts.apply_receipts(session, workspace_id, result.receipts))
            counts["waiting"] += result.waiting
            counts["errors"] += result.errors
            last_error = result.last_error or last_error
        ctx.progress(counts["checked"])
        ctx.checkpoint()
    counts["cancelled_in_doubt"] = await _settle_cancelled(ctx, accounts, now)
    return {**counts, **tally.as_dict(), "last_error": last_error}


async def _settle_cancelled(ctx: JobContext, accounts: Accounts, now: datetime) -> int:
    """In-doubt SMS of cancelled broadcasts: sent if Aliyun has them, else cancelled."""
    session = ctx.session
    cancelled = 0
    for broadcast in receipts.cancelled_in_doubt(
        session, finished_after=now - MAX_AGE, limit=CANCELLED_PER_RUN
    ):
        _accounts(session, {broadcast.workspace_id}, accounts)
        account = accounts[broadcast.workspace_id]
        if account is None:
            continue
        async with sending.sms_client(*account) as client:
            result = await sms_in_doubt.resolve(
                ctx,
                broadcast,
                client,
                settle=sms_in_doubt.settle_time(account[0]),
                max_attempts=0,
                resend=False,
            )
        cancelled += result.cancelled
        ctx.checkpoint()
    return cancelled
