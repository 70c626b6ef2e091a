"""The send loop of email, SMS and webhook broadcasts: claim, render, hand over, record.

A delivery moves pending → sending → sent | failed. A batch of pending rows is claimed
(on PostgreSQL skipping rows another sender has locked), rendered with its tracked links
and committed, so no transaction stays open while SMTP talks, then sent in rounds: every
message of a round is prepared on its own SMTP connection (MAIL, RCPT, DATA and the
content, all but the final dot), then one UPDATE moves the round's rows that are still
pending to `sending` and commits (the hand-over), then the dots are written back to back,
then the replies are read. When the server offers PIPELINING, each dot carries in the same
write the MAIL, RCPT and DATA of its connection's message in the next round, so a round
costs one round trip to the server instead of two. A batch's outcomes are recorded
together; a retryable failure goes back to pending for a later pass. A row another
sender handed over first is not sent here: its connection is closed without the dot.

What a crash (the process killed at any instruction) leaves, for email:
- before the hand-over commit: the rows are pending; the server drops the unfinished
  transactions with their connections. The next pass sends them. Nothing lost or doubled.
  An envelope written behind the previous round's dot is such an unfinished transaction
  too: without content and its own dot the server has nothing to deliver.
- after the dots were written: the rows are `sending`. The kernel delivers bytes a dead
  process wrote (the connection closes after them), so the server has every message.
  The next pass settles these rows as sent (`detail` says so) and never sends them again.
- between the hand-over commit and the last dot of the round: the rows are `sending`
  but the messages whose dot was not yet written never reached the server, and they are
  settled as sent too: this is the one span where a message can be lost. It holds no
  I/O wait, only the loop writing one dot per connection right after the commit returns
  (microseconds per round). Sending these rows again instead would double every message
  of the far longer span after the dots, since a server cannot tell (SMTP servers do not
  deduplicate, Message-ID or not); no order of commit and dot closes both spans, short of
  a connection that outlives the process.
- after the hand-over and before the outcomes are recorded: as after the dots; a message
  the server refused at its dot counts as sent (in doubt).
So: no message is ever sent twice, and none is lost unless the process dies inside
that span. SMS and webhooks are handed over the same way (the request is the point of
no return); webhook receivers deduplicate on X-Siyu-Delivery, so in-doubt webhooks are
simply sent again. An SMS whose answer was lost, or that a stopped sender left `sending`,
stays in doubt until Aliyun is asked whether it has it (sms_in_doubt.py): never sent
twice, never lost. Retryable failures wait for a later pass, spaced by retrying.py.
"""

import statistics
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.connectors.aliyun_sms.client import AliyunSmsClient
from siyu.connectors.smtp.config import SmtpConfig
from siyu.exceptions import ValidationFailed
from siyu.kit.secrets import default_box
from siyu.kit.time import utcnow
from siyu.messaging import retrying, sms_in_doubt
from siyu.messaging import rules as messaging_rules
from siyu.messaging.adapters import (
    Adapter,
    EmailAdapter,
    Outcomes,
    SmsAdapter,
    WebhookAdapter,
    require,
)
from siyu.messaging.rendering import BatchRenderer
from siyu.messaging.repository import MessagingRepository
from siyu.messaging.schemas import BroadcastStatus, Channel, DeliveryStatus
from siyu.models import Broadcast, Delivery
from siyu.worker.context import JobContext

MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(seconds=30)
IN_DOUBT_DETAIL = "handed over before the worker stopped; no receipt came back"


def account_of(session: Session, workspace_id: int, channel: str) -> tuple[dict[str, Any], str]:
    """The channel account's settings and its decrypted secret ("" when it has none)."""
    account = MessagingRepository(session, workspace_id).account(channel)
    if account is None or not account.enabled:
        raise ValidationFailed("channel", f"no {channel} account is set up for this workspace")
    secret = default_box().decrypt(account.secret).get_secret_value() if account.secret else ""
    return dict(account.config), secret


def smtp_config(config: dict[str, Any], secret: str) -> SmtpConfig:
    return SmtpConfig(
        host=require(config, "host", "email"),
        port=int(require(config, "port", "email")),
        from_address=require(config, "from_address", "email"),
        from_name=config.get("from_name") or "",
        security=config.get("security") or "none",
        username=config.get("username") or None,
        password=secret or None,
        max_connections=int(config.get("max_connections") or 8),
        messages_per_connection=int(config.get("messages_per_connection") or 1000),
        verify=bool(config.get("verify_tls", True)),
    )


def sms_client(config: dict[str, Any], secret: str) -> AliyunSmsClient:
    return AliyunSmsClient(
        require(config, "base_url", "sms"),
        require(config, "access_key_id", "sms"),
        secret,
        timeout=float(config.get("timeout_seconds") or 10),
    )


def open_adapter(session: Session, broadcast: Broadcast) -> Adapter:
    config, secret = account_of(session, broadcast.workspace_id, broadcast.channel)
    if broadcast.channel == Channel.EMAIL.value:
        return EmailAdapter(smtp_config(config, secret), broadcast.id)
    if broadcast.channel == Channel.SMS.value:
        return SmsAdapter(sms_client(config, secret), broadcast.id)
    if broadcast.channel == Channel.WEBHOOK.value:
        url = broadcast.content.get("webhook_url") or require(config, "url", "webhook")
        event = broadcast.content.get("webhook_event") or "broadcast.message"
        return WebhookAdapter(str(url), secret, event, broadcast.id)
    raise ValidationFailed("channel", f"{broadcast.channel} is not sent by this loop")


def settle_in_doubt(session: Session, broadcast: Broadcast) -> int:
    """Email and webhook rows a crashed sender handed over but never heard back about."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    found = repo.in_doubt(broadcast.id)
    now = utcnow()
    for row in found:
        if broadcast.channel == Channel.WEBHOOK.value:
            # receivers dedupe on X-Siyu-Delivery, so a webhook is simply sent again
            row.status = DeliveryStatus.PENDING.value
        else:
            row.status = DeliveryStatus.SENT.value
            row.sent_at = row.committed_at or now
            row.detail = IN_DOUBT_DETAIL
    session.flush()
    return len(found)


def _record(repo: MessagingRepository, rows: Sequence[Delivery], outcomes: Outcomes) -> None:
    """Write each outcome; a retryable failure goes back to pending until its last attempt."""
    now = utcnow()
    changes: list[dict[str, Any]] = []
    for row in rows:
        outcome = outcomes.get(row.id)
        if outcome is None:  # another sender took this row
            continue
        change: dict[str, Any] = {
            "id": row.id,
            "provider_id": outcome.provider_id,
            "detail": (outcome.reason or "")[:500] or None,
        }
        if outcome.ok:
            change.update(status=DeliveryStatus.SENT.value, sent_at=now, reason=None)
        elif outcome.in_doubt:  # stays handed over until the provider is asked
            change.update(status=DeliveryStatus.SENDING.value, sent_at=None, reason=outcome.code)
        elif outcome.retryable and row.attempts + 1 < MAX_ATTEMPTS:
            change.update(status=DeliveryStatus.PENDING.value, sent_at=None, reason=outcome.code)
        else:
            reason = (outcome.code or "failed")[:40]
            change.update(status=DeliveryStatus.FAILED.value, sent_at=None, reason=reason)
        changes.append(change)
    repo.record(changes)
    repo.session.expire_all()


async def send(ctx: JobContext, broadcast_id: int) -> dict[str, Any]:
    """One pass over the pending deliveries; returns what happened and what is left."""
    session = ctx.session
    assert ctx.workspace_id is not None
    repo = MessagingRepository(session, ctx.workspace_id)
    broadcast = repo.broadcast(broadcast_id)
    if broadcast is None or broadcast.status != BroadcastStatus.SENDING.value:
        return {"skipped": True}
    if broadcast.channel == Channel.SMS.value:
        settled = (await _resolve_sms(ctx, broadcast)).settled
    else:
        settled = settle_in_doubt(session, broadcast)
    rules = messaging_rules.read(session, ctx.workspace_id)
    quiet = messaging_rules.quiet_until(
        rules, utcnow(), messaging_rules.zone(session, ctx.workspace_id)
    )
    if quiet is not None:
        return {"quiet_until": quiet.isoformat(), "settled": settled}
    total = broadcast.planned_count
    done_before = repo.count_status(broadcast.id, "sent", "delivered", "failed")
    sent = failed = 0
    after = 0
    ctx.checkpoint()

    def hand_over(ids: Sequence[int]) -> set[int]:
        won = repo.hand_over(broadcast.id, ids, utcnow())
        ctx.checkpoint()
        return won

    batch_seconds: list[float] = []
    plan = retrying.RetryPlan()
    renderer = BatchRenderer(session, broadcast)
    adapter = open_adapter(session, broadcast)
    async with adapter:
        while True:
            started = time.perf_counter()
            session.refresh(broadcast)
            if broadcast.status != BroadcastStatus.SENDING.value:
                break
            rows = repo.claim(broadcast.id, after, adapter.batch_size)
            if not rows:
                break
            after = rows[-1].id
            messages = renderer.render(rows)
            ctx.checkpoint()  # no transaction (nor SQLite's write lock) stays open over SMTP
            outcomes = await adapter.deliver(messages, hand_over)
            plan.note(rows, outcomes)
            _record(repo, rows, outcomes)
            sent += sum(1 for o in outcomes.values() if o.ok)
            failed += sum(1 for o in outcomes.values() if not o.ok and not o.retryable)
            ctx.progress(done_before + sent + failed, total)
            ctx.checkpoint()
            batch_seconds.append(time.perf_counter() - started)
            if plan.paused:
                break
    batch_ms = round(statistics.median(batch_seconds) * 1000, 1) if batch_seconds else None
    return {
        "sent": sent,
        "failed": failed,
        "settled": settled,
        "batch_ms_median": batch_ms,
        "paused": plan.paused,
        "retry_in": plan.wait,
    }


async def _resolve_sms(ctx: JobContext, broadcast: Broadcast) -> sms_in_doubt.Resolution:
    config, secret = account_of(ctx.session, broadcast.workspace_id, broadcast.channel)
    async with sms_client(config, secret) as client:
        return await sms_in_doubt.resolve(
            ctx,
            broadcast,
            client,
            settle=sms_in_doubt.settle_time(config),
            max_attempts=MAX_ATTEMPTS,
        )


def finish_if_done(session: Session, broadcast: Broadcast) -> bool:
    """Completed when nothing is pending or in flight; a later pass takes retryable ones."""
    repo = MessagingRepository(session, broadcast.workspace_id)
    left = repo.count_status(
        broadcast.id, DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value
    )
    if left == 0 and broadcast.status == BroadcastStatus.SENDING.value:
        broadcast.status = BroadcastStatus.COMPLETED.value
        broadcast.finished_at = utcnow()
        session.flush()
        return True
    return False


def cancel_deliveries(session: Session, broadcast: Broadcast) -> int:
    return MessagingRepository(session, broadcast.workspace_id).cancel_pending(broadcast.id)
