"""Everything the simulator can be told at start: the corp, the seeded org, limits, faults."""

import hashlib
from dataclasses import dataclass, field


def _derived(seed: int, label: str, length: int) -> str:
    return hashlib.sha256(f"siyu-wecom-sim:{seed}:{label}".encode()).hexdigest()[:length]


@dataclass(frozen=True)
class SimConfig:
    """Simulator settings; every limit defaults to WeCom's documented value (protocol.md §5)."""

    seed: int = 1
    corp_id: str = ""  # "ww" + 16 hex derived from the seed when empty
    contact_secret: str = ""  # the self-built app in 客户联系 (external-contact APIs)
    directory_secret: str = ""  # 通讯录同步 (departments and members, list_id)
    agent_id: str = "1000002"
    corp_name: str = "山茶集"

    # Generated org (all zero: an empty corp with only the root department).
    departments: int = 0
    staff: int = 0
    contacts: int = 0
    tag_groups: bool = False
    groups: int = 0

    # The admin set a welcome message in the console: add events then carry no WelcomeCode.
    console_welcome_message: bool = False

    # WeCom keeps listing a relation after the customer deleted the member (a one-sided
    # friend; community reports, not protocol.md). Off: the relation disappears.
    customer_delete_keeps_relation: bool = False

    token_ttl: int = 7200
    welcome_code_ttl: int = 20
    transfer_delay: int = 24 * 3600
    transfer_window_days: int = 90
    transfers_per_window: int = 2
    # Chats of one owner handed to new owners per (China) day.
    chat_transfers_per_day: int = 300
    # Right after add_msg_template the per-member results answer 41063 for this long.
    groupmsg_dispatch_seconds: int = 0
    # Mass messages one customer may receive per month; None: the number of days in the month.
    monthly_mass_quota: int | None = None

    rate_per_minute: int = 10_000
    rate_per_hour: int = 150_000
    # Per-API override of the per-minute limit, keyed by path below /cgi-bin/.
    api_rate_per_minute: dict[str, int] = field(default_factory=dict)
    # Calls of one API in flight at once; 0 = no cap (45033 above it).
    max_concurrency: int = 0
    debug_per_minute: int = 5

    callback_timeout: float = 5.0
    callback_attempts: int = 3
    callback_retry_delay: float = 0.0

    # Faults: a share of calls answered 500/502, a delay before every answer, untrusted IP,
    # each callback pushed twice, callbacks buffered in groups of this size and shuffled.
    error_rate_5xx: float = 0.0
    # This server's IP is not among the app's trusted IPs: every call answers 60020.
    untrusted_ip: bool = False
    delay_ms: int = 0
    duplicate_callbacks: bool = False
    shuffle_callbacks: int = 0

    @property
    def resolved_corp_id(self) -> str:
        return self.corp_id or "ww" + _derived(self.seed, "corp", 16)

    @property
    def resolved_contact_secret(self) -> str:
        return self.contact_secret or _derived(self.seed, "contact-secret", 43)

    @property
    def resolved_directory_secret(self) -> str:
        return self.directory_secret or _derived(self.seed, "directory-secret", 43)
