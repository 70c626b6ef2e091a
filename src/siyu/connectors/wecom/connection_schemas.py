"""Console payloads of the WeCom connection and its callback statistics."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ConnectionIn(BaseModel):
    """Secrets are write-only: send one to set or replace it, leave it out to keep it."""

    corp_id: str = Field(max_length=64, description="企业ID, e.g. ww1234abcd")
    agent_id: str | None = Field(default=None, max_length=32)
    contact_secret: str | None = Field(
        default=None, max_length=200, description="客户联系 secret; required when connecting"
    )
    directory_secret: str | None = Field(
        default=None, max_length=200, description="通讯录同步 secret"
    )
    api_base_url: str | None = Field(
        default=None, max_length=300, description="https://qyapi.weixin.qq.com unless testing"
    )


class CallbackSettingsOut(BaseModel):
    """What the admin pastes into WeCom's 接收事件服务器 settings."""

    url: str
    token: str
    encoding_aes_key: str


class ConnectionOut(BaseModel):
    corp_id: str
    agent_id: str | None
    api_base_url: str
    contact_secret_set: bool
    directory_secret_set: bool
    status: str = Field(description="pending | verified | failing")
    callback_verified_at: datetime | None
    last_check_at: datetime | None
    callback: CallbackSettingsOut


class CallbackOut(BaseModel):
    """One callback in the inbox, with the decrypted XML WeCom sent."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    change_type: str | None
    status: str = Field(description="received | processed | ignored | failed")
    error: str | None
    received_at: datetime
    processed_at: datetime | None
    raw_xml: str


class RefusalCountOut(BaseModel):
    reason: str
    count: int


class DailyRefusalsOut(BaseModel):
    day: date
    reason: str
    count: int


class CallbackStatsOut(BaseModel):
    """Callbacks stored in the inbox by status, and callbacks refused by reason."""

    received: int = Field(description="every callback stored in the inbox")
    pending: int = Field(description="stored, not processed yet")
    processed: int
    ignored: int = Field(description="no handler for this event")
    failed: int
    refused: int
    refused_by_reason: list[RefusalCountOut]
    refused_by_day: list[DailyRefusalsOut]
    last_received_at: datetime | None
