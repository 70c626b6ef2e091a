"""Settings: one class, read from SIYU_* environment variables and `.env`."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-in-production"  # noqa: S105 - the placeholder we refuse in production


class Mode(StrEnum):
    DEV = "dev"
    DEMO = "demo"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIYU_", env_file=".env", extra="ignore")

    mode: Mode = Mode.DEV
    # Kept out of reprs: a PostgreSQL URL may carry a password.
    database_url: str = Field(default="sqlite:///var/siyu.db", repr=False)
    data_dir: Path = Path("var")
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    # Earlier secret keys, newest first, so secrets encrypted under them still decrypt.
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"

    session_ttl_hours: int = Field(default=12, ge=1)
    session_cookie_secure: bool = False
    # Failed console sign-ins allowed per (client IP, email) within the window, then 429.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    # Requests per client IP and minute to the public pages (/l/ short links, /u/
    # preferences), then 429. Per web process, like the sign-in throttle.
    public_requests_per_minute: int = Field(default=120, ge=1)
    # Outgoing webhooks may reach loopback and private networks (10.x, 192.168.x, ...).
    # Off: a workspace admin must not be able to make the server call its own network
    # (SSRF). Tests and all-on-one-host setups turn it on.
    webhook_allow_private: bool = False

    # Generated export files and uploaded import files (with their error reports) are
    # deleted after these many days by the daily housekeeping job.
    export_retention_days: int = Field(default=7, ge=1)
    upload_retention_days: int = Field(default=30, ge=1)
    # Processed WeCom callbacks (and refused-callback counts) are deleted after this long.
    wecom_inbox_retention_days: int = Field(default=30, ge=1)

    # Materials library files: on local disk under data_dir (default) or in an
    # S3-compatible object store (AWS S3, MinIO, Tencent COS, Aliyun OSS…).
    file_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str | None = None
    # A TTF/TTC/OTF font with Chinese glyphs for poster text; default: found by fontconfig.
    poster_font: Path | None = None

    worker_in_process: bool = True
    worker_concurrency: int = Field(default=2, ge=1)
    # Runners for the realtime lane (callbacks, welcome messages), so a slow WeCom call
    # does not hold up a welcome message that must go out within 20 seconds.
    worker_realtime_concurrency: int = Field(default=2, ge=1)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    job_lease_seconds: int = Field(default=300, ge=5)
    # how often a WeCom broadcast's tasks are polled while staff have not confirmed them
    broadcast_poll_seconds: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> "Settings":
        if self.file_store == "s3" and not self.s3_bucket:
            msg = "SIYU_S3_BUCKET is required when SIYU_FILE_STORE=s3"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "Settings":
        if self.mode is Mode.PRODUCTION:
            key = self.secret_key.get_secret_value()
            if key == PLACEHOLDER_SECRET or len(key) < 32:
                msg = (
                    "SIYU_SECRET_KEY is a placeholder or shorter than 32 characters; "
                    "set a random secret (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`) before running in production"
                )
                raise ValueError(msg)
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
