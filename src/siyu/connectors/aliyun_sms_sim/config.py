"""Everything the SMS simulator can be told at start: keys, signs, templates, limits, faults."""

import hashlib
from dataclasses import dataclass, field


def _derived(seed: int, label: str, length: int) -> str:
    return hashlib.sha256(f"siyu-aliyun-sms-sim:{seed}:{label}".encode()).hexdigest()[:length]


@dataclass(frozen=True)
class FlowLimit:
    """At most `permits` messages per `seconds` (rolling window), as Aliyun counts them."""

    seconds: int
    permits: int
    label: str  # how Aliyun's message names the window: 分钟级, 小时级, 天级


# Aliyun's defaults (什么是短信发送流控限制): verification codes per sign and number 1/min,
# 5/hour, 10/day; notifications and marketing per sign, template and number 50/day.
DEFAULT_FLOW_LIMITS: dict[int, tuple[FlowLimit, ...]] = {
    0: (FlowLimit(60, 1, "分钟级"), FlowLimit(3600, 5, "小时级"), FlowLimit(86400, 10, "天级")),
    1: (FlowLimit(86400, 50, "天级"),),
    2: (FlowLimit(86400, 50, "天级"),),
}


@dataclass(frozen=True)
class SimConfig:
    """Simulator settings; limits default to Aliyun's documented values."""

    seed: int = 1
    access_key_id: str = ""  # "LTAI" + 20 characters derived from the seed when empty
    access_key_secret: str = ""  # 30 characters derived from the seed when empty
    # The seeded brand: signs 【brand】 and a few approved templates (seed.py).
    brand: str = "山茶集"
    seed_catalog: bool = True

    # Requests whose Timestamp is further than this from the server clock are refused.
    timestamp_skew_seconds: int = 15 * 60
    # Message counts per template type; {} switches flow control off.
    flow_limits: dict[int, tuple[FlowLimit, ...]] = field(
        default_factory=lambda: dict(DEFAULT_FLOW_LIMITS)
    )
    # Each variable value of a non-verification template (isv.PARAM_LENGTH_LIMIT above).
    variable_max_chars: int = 35
    # Segments the account can still pay for; None: unlimited (isv.AMOUNT_NOT_ENOUGH).
    balance_segments: int | None = None
    # Words refused in variable values (isv.BLACK_KEY_CONTROL_LIMIT), besides URLs.
    black_keywords: tuple[str, ...] = ("代开发票", "贷款")

    # Delivery reports: seconds after the send, push URLs, batch size and retries.
    report_delay: float = 1.0
    report_url: str = ""
    uplink_url: str = ""
    push_batch_size: int = 100
    push_timeout: float = 5.0
    # Aliyun pushes again 1, 5 and 10 minutes after a failed push, then gives up.
    push_retry_delays: tuple[float, ...] = (60.0, 300.0, 600.0)

    # Report outcomes: these numbers fail with their code; a seeded share fails too.
    fail_numbers: dict[str, str] = field(default_factory=dict)
    fail_ratio: float = 0.0
    fail_code: str = "MOBILE_NOT_ON_SERVICE"

    # Seconds (simulator clock) before an accepted message shows in QuerySendDetails.
    details_delay: float = 0.0

    # Faults: a share of calls answered 500/503, the next N calls throttled or
    # isp.SYSTEM_ERROR, a delay before every answer.
    error_rate_5xx: float = 0.0
    throttle_burst: int = 0
    system_error_burst: int = 0
    delay_ms: int = 0
    # The next N sends are accepted but their answer is held until the caller gives up
    # (or `answer_hold_seconds` pass); the next N are held the same way and never accepted.
    answer_timeouts: int = 0
    request_timeouts: int = 0
    answer_hold_seconds: float = 30.0

    @property
    def resolved_access_key_id(self) -> str:
        return self.access_key_id or "LTAI" + _derived(self.seed, "access-key-id", 20)

    @property
    def resolved_access_key_secret(self) -> str:
        return self.access_key_secret or _derived(self.seed, "access-key-secret", 30)
