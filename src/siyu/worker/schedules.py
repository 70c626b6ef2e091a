"""Cron schedules: created idempotently by key, and the installation-wide ones."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.kit.time import utcnow
from siyu.models import Schedule

SWEEP_FILES_JOB = "workspace.sweep_files"
RECOUNT_TAGS_JOB = "tags.recount"
DAILY_FEATURES_JOB = "analytics.daily_features"
REFRESH_WECOM_MEDIA_JOB = "content.refresh_wecom_media"
WECOM_SWEEP_INBOX_JOB = "wecom.sweep_inbox"
PULL_SMS_RECEIPTS_JOB = "messaging.pull_sms_receipts"
ANALYZE_STALE_JOB = "db.analyze_stale"


def ensure_schedule(
    session: Session,
    *,
    key: str,
    cron: str,
    job_name: str,
    payload: dict[str, Any] | None = None,
    workspace_id: int | None = None,
) -> Schedule:
    """The schedule named `key`, created if missing; its cron and payload follow the arguments."""
    wanted = payload or {}
    schedule = session.scalar(select(Schedule).where(Schedule.key == key))
    if schedule is None:
        schedule = Schedule(
            workspace_id=workspace_id,
            key=key,
            cron=cron,
            job_name=job_name,
            payload=wanted,
            next_run_at=utcnow(),
        )
        session.add(schedule)
    else:
        if schedule.payload != wanted:
            schedule.payload = wanted
        if schedule.cron != cron:
            schedule.cron = cron
    session.flush()
    return schedule


def ensure_installation_schedules(session: Session, settings: Settings) -> None:
    """What every installation runs: old files swept, tag counts kept honest, features rolled."""
    ensure_schedule(
        session,
        key=SWEEP_FILES_JOB,
        cron="40 3 * * *",
        job_name=SWEEP_FILES_JOB,
        payload={
            "data_dir": str(settings.data_dir.resolve()),
            "export_retention_days": settings.export_retention_days,
            "upload_retention_days": settings.upload_retention_days,
        },
    )
    ensure_schedule(session, key=RECOUNT_TAGS_JOB, cron="17 * * * *", job_name=RECOUNT_TAGS_JOB)
    # Hourly, so every workspace's features roll soon after its own local midnight.
    ensure_schedule(session, key=DAILY_FEATURES_JOB, cron="5 * * * *", job_name=DAILY_FEATURES_JOB)
    # Hourly: WeCom media ids of materials in use expire three days after upload.
    ensure_schedule(
        session, key=REFRESH_WECOM_MEDIA_JOB, cron="23 * * * *", job_name=REFRESH_WECOM_MEDIA_JOB
    )
    ensure_schedule(
        session,
        key=WECOM_SWEEP_INBOX_JOB,
        cron="50 3 * * *",
        job_name=WECOM_SWEEP_INBOX_JOB,
        payload={"retention_days": settings.wecom_inbox_retention_days},
    )
    # SMS delivery reports Aliyun did not push are asked for (QuerySendDetails).
    ensure_schedule(
        session, key=PULL_SMS_RECEIPTS_JOB, cron="*/10 * * * *", job_name=PULL_SMS_RECEIPTS_JOB
    )
    # Planner statistics on PostgreSQL, where autovacuum is off or behind.
    ensure_schedule(session, key=ANALYZE_STALE_JOB, cron="*/10 * * * *", job_name=ANALYZE_STALE_JOB)
