"""The simulated SMS account in memory: dataclasses guarded by one lock, reset from a SimConfig."""

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from siyu.connectors.aliyun_sms.schemas import CHINA
from siyu.connectors.aliyun_sms_sim.config import SimConfig

PushKind = Literal["report", "uplink"]
AUDIT_PASS = "AUDIT_STATE_PASS"  # noqa: S105 - an audit status, not a password


@dataclass
class Sign:
    sign_name: str
    audit_status: str = AUDIT_PASS
    business_type: str = "通用"  # or 验证码: only verification-code templates
    create_date: str = "2025-03-01 10:00:00"
    reject_info: str = ""


@dataclass
class Template:
    template_code: str
    template_name: str
    template_content: str
    template_type: int  # 0 verification code, 1 notification, 2 marketing
    audit_status: str = AUDIT_PASS
    create_date: str = "2025-03-01 10:00:00"
    reject_info: str = ""


@dataclass
class SentSms:
    """One message to one number, as QuerySendDetails and the console show it."""

    biz_id: str
    request_id: str
    phone_number: str
    sign_name: str
    template_code: str
    template_type: int
    params: dict[str, str]
    content: str  # 【sign】 + rendered body
    segments: int
    out_id: str
    send_time: float
    report_due: float
    send_status: int = 1  # 1 waiting for a receipt, 2 failed, 3 delivered
    err_code: str = ""
    err_msg: str = ""
    report_time: float | None = None
    # Marketing to a number that replied T before the send ends in the blacklist.
    blacklisted: bool = False


@dataclass
class Uplink:
    phone_number: str
    content: str
    sign_name: str
    dest_code: str
    sequence_id: int
    send_time: float


@dataclass
class Push:
    """One batch pushed to the report or uplink URL, with its tries."""

    id: int
    kind: PushKind
    items: list[dict[str, Any]]
    next_at: float
    status: str = "pending"  # pending, delivered, failed
    attempts: int = 0
    responses: list[str] = field(default_factory=list)


def china_text(moment: float) -> str:
    """Beijing time as Aliyun writes it: 2017-01-01 00:00:00."""
    return datetime.fromtimestamp(moment, UTC).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.lock = threading.RLock()
        self.reset(config)

    def reset(self, config: SimConfig) -> None:
        from siyu.connectors.aliyun_sms_sim.seed import seed_catalog  # noqa: PLC0415

        with self.lock:
            self.config = config
            self.generation = getattr(self, "generation", 0) + 1
            self.rng = random.Random(config.seed)  # noqa: S311 - reproducible fakes, not secrets
            self.report_rng = random.Random(config.seed)  # noqa: S311 - reproducible outcomes
            self.clock_offset = 0.0
            self.keys: dict[str, str] = {
                config.resolved_access_key_id: config.resolved_access_key_secret
            }
            self.signs: dict[str, Sign] = {}
            self.templates: dict[str, Template] = {}
            if config.seed_catalog:
                seed_catalog(self, config.brand)
            # Nonces seen within twice the allowed skew, oldest first.
            self.nonces: set[str] = set()
            self.nonce_times: deque[tuple[float, str]] = deque()
            self.messages: list[SentSms] = []
            self.sends: dict[tuple[str, ...], deque[float]] = {}
            self.uplinks: list[Uplink] = []
            self.opted_out: set[str] = set()
            self.pushes: list[Push] = []
            self.balance_segments = config.balance_segments
            self.report_url = config.report_url
            self.uplink_url = config.uplink_url
            self.report_delay = config.report_delay
            self.fail_numbers = dict(config.fail_numbers)
            self.fail_ratio = config.fail_ratio
            self.fail_code = config.fail_code
            self.error_rate_5xx = config.error_rate_5xx
            self.throttle_burst = config.throttle_burst
            self.system_error_burst = config.system_error_burst
            self.delay_ms = config.delay_ms
            self.details_delay = config.details_delay
            self.answer_timeouts = config.answer_timeouts
            self.request_timeouts = config.request_timeouts
            self.total_calls = 0
            self._next_id = 0

    def now(self) -> float:
        """The simulator clock: wall time plus every `advance`."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def next_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def new_request_id(self) -> str:
        raw = f"{self.rng.getrandbits(128):032X}"
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    def new_biz_id(self) -> str:
        """Aliyun's BizId: a number, a caret and the index within the request."""
        return f"{self.rng.randrange(10**17, 10**18)}^0"
