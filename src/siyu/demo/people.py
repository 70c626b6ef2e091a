"""The demo's people: staff in departments, customers through OneID, follow relations, tags.

`Loaded` carries what one step made to the next.
"""

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.customers import custom_fields
from siyu.customers import follow as follow_service
from siyu.customers import service as customers_service
from siyu.customers.custom_fields import FieldType
from siyu.customers.identities import IdentityKind, normalize
from siyu.customers.schemas import CustomerCreate, IdentityIn
from siyu.demo import data
from siyu.exceptions import ValidationFailed
from siyu.kit.time import utcnow
from siyu.staff import service as staff_service
from siyu.staff.schemas import DepartmentIn, StaffIn
from siyu.tags import service as tags_service
from siyu.workspace.principal import Principal

ACTOR = "demo"
ORDER_DAYS = 365
# A share of records arrive a second time from another channel with the same mobile:
# OneID joins them to the customer that already exists, as it would in production.
RETURNING_SHARE = 0.04

Progress = Callable[[str, int, int], None]
"""Called as progress(step, done, total) while a load runs."""


@dataclass
class PersonSpec:
    name: str
    gender: str
    birthday: date
    mobile: str | None
    email: str | None
    province: str
    city: str
    source: str
    stage: str
    joined_at: datetime
    identities: list[tuple[str, str]]


@dataclass
class Loaded:
    """What the load made, by the keys later steps need."""

    workspace_id: int
    principal: Principal
    staff_ids: dict[str, int] = field(default_factory=dict)  # userid -> staff id
    customers: list[tuple[int, PersonSpec]] = field(default_factory=list)


# --- people ----------------------------------------------------------------------------


def weighted_choice(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o[0] for o in options], [o[1] for o in options])[0]


def chinese_name(rng: random.Random, gender: str) -> str:
    surname = data.SURNAMES[min(int(rng.expovariate(1 / 18)), len(data.SURNAMES) - 1)]
    pool = data.GIVEN_FEMALE if gender == "female" else data.GIVEN_MALE
    given = rng.choice(pool)
    if rng.random() < 0.75:
        given = rng.choice(data.GIVEN_NEUTRAL + pool) + given
    return surname + given


def mobile_number(rng: random.Random) -> str:
    while True:
        candidate = rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
        try:
            return normalize(IdentityKind.MOBILE, candidate).value
        except ValidationFailed:
            continue


EMAIL_SHARE = 0.55
EMAIL_HANDLES = ("tea", "cha", "ming", "yun", "xiaolan", "chaxiang")


def email_address(rng: random.Random, n: int) -> str | None:
    """Half the customers left an email; each address is different (n is in it)."""
    if rng.random() >= EMAIL_SHARE:
        return None
    if rng.random() < 0.6:
        return f"{10_000_000 + n * 7919 + rng.randrange(7919)}@qq.example.com"
    return f"{rng.choice(EMAIL_HANDLES)}{n}@163.example.com"


def person_spec(rng: random.Random, n: int) -> PersonSpec:
    gender = "female" if rng.random() < 0.64 else "male"
    region = weighted_choice(rng, [(f"{p}|{c}", w) for p, c, w in data.REGIONS])
    province, city = region.split("|")
    source = weighted_choice(rng, data.SOURCES)
    mobile = mobile_number(rng) if source in {"渠道活码", "门店"} or rng.random() < 0.6 else None
    channel_identity = {
        "渠道活码": (IdentityKind.WECOM_EXTERNAL_USERID, f"wmDemo{n:06d}Shancha"),
        "天猫": (IdentityKind.TAOBAO_BUYER_ID, f"tb{2_200_000_000 + n * 7919}"),
        "京东": (IdentityKind.JD_BUYER_ID, f"jd_{n:06d}shanchaji"),
        "拼多多": (IdentityKind.PDD_BUYER_ID, f"pdd{8_100_000 + n * 31}"),
        "门店": (IdentityKind.STORE_MEMBER_NO, f"SCJ{n + 100_001:08d}"),
        "小程序": (IdentityKind.WECHAT_UNIONID, f"oDemo_{n:06d}_shanchaji"),
    }[source]
    identities = [(channel_identity[0].value, channel_identity[1])]
    if mobile:
        identities.append((IdentityKind.MOBILE.value, mobile))
    joined = utcnow() - timedelta(days=rng.randrange(ORDER_DAYS), seconds=rng.randrange(86400))
    return PersonSpec(
        name=chinese_name(rng, gender),
        gender=gender,
        birthday=date(rng.randint(1968, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        mobile=mobile,
        email=email_address(rng, n),
        province=province,
        city=city,
        source=source,
        stage=weighted_choice(rng, data.LIFECYCLE_STAGES),
        joined_at=joined,
        identities=identities,
    )


# What a skincare brand's members fill in: label, type, options, share who answered.
CUSTOM_FIELDS: tuple[tuple[str, str, FieldType, tuple[str, ...], float], ...] = (
    ("skin_type", "肤质", FieldType.CHOICE, ("干性", "油性", "混合性", "中性", "敏感性"), 0.7),
    ("member_level", "会员等级", FieldType.CHOICE, ("普通会员", "银卡", "金卡", "黑金"), 1.0),
    ("scents", "偏好香型", FieldType.MULTI_CHOICE, ("山茶花", "白茶", "柑橘", "木质", "无香"), 0.4),
    ("skin_test_score", "肌肤测试得分", FieldType.NUMBER, (), 0.3),
)


def load_custom_fields(session: Session, loaded: Loaded) -> None:
    for order, (key, label, field_type, options, _) in enumerate(CUSTOM_FIELDS):
        custom_fields.create_field(
            session,
            loaded.workspace_id,
            key=key,
            label=label,
            field_type=field_type,
            options=list(options),
            sort_order=order,
        )


def custom_values(rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, _, field_type, options, share in CUSTOM_FIELDS:
        if rng.random() >= share:
            continue
        if field_type is FieldType.MULTI_CHOICE:
            values[key] = rng.sample(options, rng.randint(1, 2))
        elif field_type is FieldType.NUMBER:
            values[key] = rng.randint(55, 98)
        else:
            values[key] = rng.choices(options, weights=range(len(options), 0, -1))[0]
    return values


def load_customers(
    session: Session,
    loaded: Loaded,
    people: Sequence[PersonSpec],
    rng: random.Random,
    report: Progress,
) -> None:
    """Create each person through the customers service (OneID resolves their identities)."""
    total = len(people)
    # its own random stream, so the rest of the demo is the same with or without it
    answers = random.Random(len(people))  # noqa: S311 - reproducible demo data
    for done, person in enumerate(people, start=1):
        customer, _ = customers_service.create_customer(
            session,
            loaded.workspace_id,
            CustomerCreate(
                name=person.name,
                gender=person.gender,
                birthday=person.birthday,
                mobile=person.mobile,
                email=person.email,
                province=person.province,
                city=person.city,
                lifecycle_stage=person.stage,
                source=person.source,
                identities=[IdentityIn(kind=k, value=v) for k, v in person.identities],
                custom_fields=custom_values(answers),
            ),
            source=ACTOR,
            actor=ACTOR,
        )
        # The demo backdates when each person became a customer over the past year.
        customer.created_at = person.joined_at
        loaded.customers.append((customer.id, person))
        if person.mobile and rng.random() < RETURNING_SHARE:
            returning_record(session, loaded, person, done)
        if done % 100 == 0 or done == total:
            report("customers", done, total)
    session.flush()


def returning_record(session: Session, loaded: Loaded, person: PersonSpec, n: int) -> None:
    """The same person seen again on the mini-program: OneID joins it by mobile."""
    assert person.mobile is not None
    _, created = customers_service.create_customer(
        session,
        loaded.workspace_id,
        CustomerCreate(
            mobile=person.mobile,
            identities=[IdentityIn(kind="wechat_unionid", value=f"oDemoReturning_{n:06d}")],
        ),
        source=ACTOR,
        actor=ACTOR,
    )
    assert not created.created, "a known mobile resolves to its customer"


# --- staff and follow relations --------------------------------------------------------


def load_staff(session: Session, loaded: Loaded, rng: random.Random) -> None:
    """The department tree (总部 › 大区 › 城市 › 门店) and 20 staff members in it."""
    department_ids: dict[str, int] = {}
    for unit in data.DEPARTMENTS:
        parent_id = department_ids[unit.parent] if unit.parent else None
        department = staff_service.create_department(
            session, loaded.workspace_id, DepartmentIn(name=unit.name, parent_id=parent_id)
        )
        department_ids[unit.key] = department.id
    for spec in data.STAFF:
        staff = staff_service.create_staff(
            session,
            loaded.workspace_id,
            StaffIn(
                name=spec.name,
                wecom_userid=spec.userid,
                mobile=mobile_number(rng),
                email=f"{spec.userid}@shanchaji.example.com",
                position=spec.position,
                department_id=department_ids[spec.department],
            ),
        )
        loaded.staff_ids[spec.userid] = staff.id


def store_city(department_key: str) -> str | None:
    parent = next((d.parent for d in data.DEPARTMENTS if d.key == department_key), None)
    return data.STORE_CITY.get(parent or "")


def follower_for(person: PersonSpec, rng: random.Random) -> tuple[data.StaffSpec, str] | None:
    """Who added this person on WeCom and how, or None for people who never did."""
    in_stores = [s for s in data.STAFF if s.department in data.STORE_KEYS]
    if person.source in {"门店", "渠道活码"}:
        local = [s for s in in_stores if store_city(s.department) == person.city]
        return rng.choice(local or in_stores), "qr_code"
    if person.source == "小程序" or rng.random() < 0.35:
        service = [s for s in data.STAFF if s.department in {"service", "ecom"}]
        return rng.choice(service), rng.choice(("card_share", "mobile_search"))
    return None


def load_follow_relations(
    session: Session, loaded: Loaded, rng: random.Random, report: Progress
) -> None:
    """WeCom contacts: store guides for store and live-code customers, service for others."""
    total = len(loaded.customers)
    for done, (customer_id, person) in enumerate(loaded.customers, start=1):
        follower = follower_for(person, rng)
        if follower is not None:
            staff, add_way = follower
            follow_service.upsert_follow_relation(
                session,
                loaded.workspace_id,
                customer_id,
                loaded.staff_ids[staff.userid],
                added_at=person.joined_at,
                remark=f"{person.name} {data.LIFECYCLE_LABELS[person.stage]}",
                add_way=add_way,
                state=f"livecode-{staff.department}" if add_way == "qr_code" else None,
            )
        if done % 200 == 0 or done == total:
            report("follow relations", done, total)


# --- tags ------------------------------------------------------------------------------

CHANNEL_TAG = {
    "天猫": "天猫",
    "京东": "京东",
    "拼多多": "拼多多",
    "门店": "门店",
    "小程序": "小程序",
    "渠道活码": "门店",
}
TIER_BY_STAGE = {
    "new": ("普通会员", 90),
    "active": ("银卡会员", 60),
    "loyal": ("金卡会员", 70),
    "dormant": ("普通会员", 70),
    "churned": ("普通会员", 95),
}


def load_tags(session: Session, loaded: Loaded, rng: random.Random, report: Progress) -> None:
    """The five tag groups, and tags on customers that fit their stage and channel."""
    names = [(group, tag) for group, tags in data.TAG_GROUPS for tag in tags]
    tag_ids = tags_service.ensure_tags(session, loaded.workspace_id, names)
    interests = dict(data.TAG_GROUPS)["兴趣偏好"]
    campaigns = dict(data.TAG_GROUPS)["活动参与"]
    wanted: dict[int, list[int]] = defaultdict(list)
    for customer_id, person in loaded.customers:
        tier, common = TIER_BY_STAGE[person.stage]
        if rng.randrange(100) >= common:
            tier = rng.choice(("银卡会员", "金卡会员", "黑金会员"))
        chosen = [
            ("客户等级", tier),
            ("购买渠道", CHANNEL_TAG[person.source]),
            ("生命周期", data.LIFECYCLE_LABELS[person.stage]),
        ]
        chosen += [("兴趣偏好", t) for t in rng.sample(interests, rng.randint(0, 3))]
        if person.stage in {"active", "loyal"}:
            chosen += [("活动参与", t) for t in rng.sample(campaigns, rng.randint(0, 3))]
        for key in chosen:
            wanted[tag_ids[key]].append(customer_id)
    for done, (tag_id, customer_ids) in enumerate(sorted(wanted.items()), start=1):
        tags_service.add_tags(
            session, loaded.workspace_id, customer_ids, [tag_id], source="import", actor=ACTOR
        )
        report("tags", done, len(wanted))
