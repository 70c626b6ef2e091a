"""The simulated corp in memory: dataclasses guarded by one lock, reset from a SimConfig."""

import queue
import random
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from siyu.connectors.wecom_sim.config import SimConfig

SecretKind = Literal["contact", "directory"]
# Member.status of someone who left the company (deleted from the directory).
RESIGNED = 5
_ID_CHARS = string.ascii_letters + string.digits


@dataclass
class Department:
    id: int
    name: str
    parentid: int
    order: int
    name_en: str = ""
    department_leader: list[str] = field(default_factory=list)


@dataclass
class Member:
    userid: str
    name: str
    department: list[int]
    position: str = ""
    mobile: str = ""
    gender: str = "0"
    email: str = ""
    alias: str = ""
    # 1 active, 2 disabled, 4 not activated, RESIGNED
    status: int = 1
    customer_contact: bool = True
    resigned_at: float | None = None
    open_userid: str = ""

    @property
    def main_department(self) -> int:
        return self.department[0] if self.department else 1


@dataclass
class ExternalContact:
    external_userid: str
    name: str
    type: int = 1  # 1 WeChat user, 2 WeCom user
    gender: int = 0
    avatar: str = ""
    corp_name: str = ""
    corp_full_name: str = ""
    position: str = ""
    unionid: str = ""


@dataclass
class FollowInfo:
    """One member–customer relation (follow_user / follow_info)."""

    userid: str
    external_userid: str
    createtime: int
    remark: str = ""
    description: str = ""
    remark_corp_name: str = ""
    remark_mobiles: list[str] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)
    oper_userid: str = ""
    add_way: int = 1
    state: str = ""
    # The customer deleted the member but the relation is still listed
    # (SimConfig.customer_delete_keeps_relation); messages no longer reach the customer.
    deleted_by_customer: bool = False


class FollowTable(dict[tuple[str, str], FollowInfo]):
    """Relations keyed by (userid, external_userid), indexed by member and by customer so
    per-member paging stays cheap at 100,000 relations."""

    def __init__(self) -> None:
        super().__init__()
        self.by_member: dict[str, dict[str, FollowInfo]] = {}
        self.by_contact: dict[str, dict[str, FollowInfo]] = {}

    def __setitem__(self, key: tuple[str, str], follow: FollowInfo) -> None:
        super().__setitem__(key, follow)
        userid, external_userid = key
        self.by_member.setdefault(userid, {})[external_userid] = follow
        self.by_contact.setdefault(external_userid, {})[userid] = follow

    def __delitem__(self, key: tuple[str, str]) -> None:
        super().__delitem__(key)
        userid, external_userid = key
        self.by_member.get(userid, {}).pop(external_userid, None)
        self.by_contact.get(external_userid, {}).pop(userid, None)

    def pop(self, key: tuple[str, str], *default: Any) -> Any:
        if key in self:
            follow = self[key]
            del self[key]
            return follow
        if default:
            return default[0]
        raise KeyError(key)

    def clear(self) -> None:
        super().clear()
        self.by_member.clear()
        self.by_contact.clear()


@dataclass
class Tag:
    id: str
    name: str
    group_id: str
    create_time: int
    order: int = 0
    deleted: bool = False


@dataclass
class TagGroup:
    group_id: str
    group_name: str
    create_time: int
    order: int = 0
    deleted: bool = False
    tag_ids: list[str] = field(default_factory=list)


@dataclass
class ContactWay:
    config_id: str
    type: int
    scene: int
    create_time: int
    style: int = 0
    remark: str = ""
    skip_verify: bool = True
    state: str = ""
    user: list[str] = field(default_factory=list)
    party: list[int] = field(default_factory=list)
    is_temp: bool = False
    expires_in: int = 0
    chat_expires_in: int = 0
    unionid: str = ""
    conclusions: dict[str, object] = field(default_factory=dict)
    qr_code: str = ""
    # The next staff member for a multi-person way (round robin).
    next_index: int = 0


@dataclass
class ChatMember:
    userid: str
    type: int  # 1 member, 2 external contact
    join_time: int
    join_scene: int = 1
    invitor: str = ""
    group_nickname: str = ""
    name: str = ""
    unionid: str = ""


@dataclass
class GroupChat:
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    members: list[ChatMember] = field(default_factory=list)
    admin_list: list[str] = field(default_factory=list)
    member_version: str = ""
    # 0 normal, 1 owner resigned, 2 inheritance in progress, 3 inherited
    status: int = 0


@dataclass
class WelcomeCode:
    code: str
    userid: str
    external_userid: str
    issued_at: float
    used: bool = False


@dataclass
class SentWelcome:
    """A welcome message sent through send_welcome_msg, for tests to inspect."""

    welcome_code: str
    userid: str
    external_userid: str
    text: dict[str, object]
    attachments: list[dict[str, object]]
    sent_at: float


@dataclass
class PendingRequest:
    userid: str
    external_userid: str
    state: str
    config_id: str


@dataclass
class MassSend:
    """One recipient of a mass-message task (send_list row)."""

    userid: str
    external_userid: str = ""
    chat_id: str = ""
    status: int = 0  # 0 not sent, 1 sent, 2 not a friend, 3 over the quota
    send_time: int = 0


@dataclass
class MassTask:
    msgid: str
    creator: str
    create_type: int  # 0 corp, 1 personal
    chat_type: str
    create_time: int
    text: dict[str, object] = field(default_factory=dict)
    attachments: list[dict[str, object]] = field(default_factory=list)
    # userid -> (status 0 not sent / 2 sent, send_time)
    tasks: dict[str, tuple[int, int]] = field(default_factory=dict)
    sends: list[MassSend] = field(default_factory=list)
    cancelled: bool = False
    reminders: int = 0


@dataclass
class Transfer:
    kind: Literal["onjob", "resigned"]
    handover_userid: str
    takeover_userid: str
    external_userid: str
    started_at: float
    takeover_time: int
    status: int = 2  # 1 done, 2 waiting, 3 refused, 4 takeover at customer limit
    # What the control API decided the outcome will be when the delay has passed.
    outcome: int = 1


@dataclass
class ChatTransfer:
    """A customer group handed to a new owner (takes effect at once)."""

    kind: Literal["onjob", "resigned"]
    chat_id: str
    handover_userid: str
    takeover_userid: str
    at: float


@dataclass
class Token:
    value: str
    kind: SecretKind
    expires_at: float


@dataclass
class Push:
    """One callback the simulator pushed (or is pushing) to the receiver."""

    id: int
    xml: str
    event: str
    change_type: str
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = 0
    responses: list[str] = field(default_factory=list)  # "200", "500", "timeout", ...


@dataclass
class CallbackTarget:
    url: str
    token: str
    encoding_aes_key: str


class SimState:
    """The whole simulated corp. Hold `lock` while reading or changing anything."""

    def __init__(self, config: SimConfig) -> None:
        self.lock = threading.RLock()
        self.outbox: queue.Queue[tuple[int, Push]] = queue.Queue()
        self.reset(config)

    def reset(self, config: SimConfig) -> None:
        """Forget everything and seed again from `config` (same config, same corp)."""
        with self.lock:
            self.config = config
            self.generation = getattr(self, "generation", 0) + 1
            self.rng = random.Random(config.seed)  # noqa: S311 - reproducible fakes, not secrets
            self.clock_offset = 0.0
            secrets: dict[str, SecretKind] = {
                config.resolved_contact_secret: "contact",
                config.resolved_directory_secret: "directory",
            }
            # Tokens survive a reset to the same corp and secrets, so a client's cached token
            # keeps working when a test reseeds the corp.
            same_corp = (
                getattr(self, "corp_id", None) == config.resolved_corp_id
                and getattr(self, "secrets", None) == secrets
            )
            self.tokens: dict[str, Token] = self.tokens if same_corp else {}
            self.corp_id = config.resolved_corp_id
            self.secrets = secrets
            self.departments: dict[int, Department] = {}
            self.members: dict[str, Member] = {}
            self.contacts: dict[str, ExternalContact] = {}
            self.follows = FollowTable()
            self.tag_groups: dict[str, TagGroup] = {}
            self.tags: dict[str, Tag] = {}
            self.contact_ways: dict[str, ContactWay] = {}
            self.groups: dict[str, GroupChat] = {}
            self.welcome_codes: dict[str, WelcomeCode] = {}
            self.welcome_messages: list[SentWelcome] = []
            # Friend requests waiting for the member (contact ways with skip_verify off).
            self.pending_requests: list[PendingRequest] = []
            self.mass_tasks: dict[str, MassTask] = {}
            self.transfers: list[Transfer] = []
            self.chat_transfers: list[ChatTransfer] = []
            self.calls: dict[str, list[float]] = {}
            self.in_flight: dict[str, int] = {}
            self.total_calls = 0
            # The next N calls (of one path, or of any) answer this errcode.
            self.burst_45009: tuple[int, str | None] = (0, None)
            self.burst_errcode = 45009
            self.untrusted_ip = config.untrusted_ip
            self.error_rate_5xx = config.error_rate_5xx
            self.delay_ms = config.delay_ms
            self.duplicate_callbacks = config.duplicate_callbacks
            self.shuffle_callbacks = config.shuffle_callbacks
            self.callback: CallbackTarget | None = None
            # Where this simulator is reachable; qr_code URLs point here.
            self.public_url = getattr(self, "public_url", "http://127.0.0.1")
            self.pushes: list[Push] = []
            self.held_pushes: list[Push] = []
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.departments[1] = Department(1, config.corp_name, 0, 100_000_000)
            from siyu.connectors.wecom_sim.seed import seed_org  # noqa: PLC0415 - seed imports state

            seed_org(self)

    # clock -------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def now_int(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    # ids ---------------------------------------------------------------------------
    def random_id(self, prefix: str, length: int, alphabet: str = _ID_CHARS) -> str:
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(length))

    def new_external_userid(self) -> str:
        return self.random_id("wm", 32, _ID_CHARS + "-_")

    def new_chat_id(self) -> str:
        return self.random_id("wr", 32, _ID_CHARS + "-_")

    def new_tag_id(self) -> str:
        return self.random_id("et", 30, _ID_CHARS + "-_")

    def new_config_id(self) -> str:
        return self.random_id("", 32, "0123456789abcdef")

    def new_msgid(self) -> str:
        return self.random_id("msg", 28, _ID_CHARS + "-_")

    def new_member_version(self) -> str:
        return self.random_id("", 32, "0123456789abcdef")

    # tokens ------------------------------------------------------------------------
    def issue_token(self, kind: SecretKind) -> Token:
        with self.lock:
            token = Token(
                self.random_id("", 64, _ID_CHARS + "-_"), kind, self.now() + self.config.token_ttl
            )
            self.tokens[token.value] = token
            return token

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = self.now() - 1

    def set_callback(self, url: str, token: str, encoding_aes_key: str) -> None:
        """Where to push callbacks, with the receiver's Token and EncodingAESKey."""
        with self.lock:
            self.callback = CallbackTarget(url, token, encoding_aes_key)

    # helpers used by the APIs and the control API ------------------------------------
    def follows_of_contact(self, external_userid: str) -> list[FollowInfo]:
        return list(self.follows.by_contact.get(external_userid, {}).values())

    def follows_of_member(self, userid: str) -> list[FollowInfo]:
        return list(self.follows.by_member.get(userid, {}).values())

    def department_subtree(self, root: int) -> set[int]:
        ids = {root}
        grew = True
        while grew:
            grew = False
            for department in self.departments.values():
                if department.parentid in ids and department.id not in ids:
                    ids.add(department.id)
                    grew = True
        return ids

    def live_tag_groups(self) -> list[TagGroup]:
        return sorted(
            (g for g in self.tag_groups.values() if not g.deleted),
            key=lambda g: (-g.order, g.create_time),
        )
