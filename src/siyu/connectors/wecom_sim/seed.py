"""A deterministic generated org: departments, staff, customers, corp tags and groups."""

from siyu.connectors.wecom_sim.state import (
    ChatMember,
    Department,
    ExternalContact,
    FollowInfo,
    GroupChat,
    Member,
    SimState,
    Tag,
    TagGroup,
)

SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"),
]  # fmt: skip
GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("洋", "yang"), ("艳", "yan"),
    ("勇", "yong"), ("军", "jun"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"),
    ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("晨", "chen"), ("宇", "yu"),
    ("欣", "xin"), ("佳", "jia"), ("怡", "yi"), ("子", "zi"), ("萱", "xuan"),
]  # fmt: skip
NICKNAMES = [
    "小鱼儿", "晴天", "Momo", "糖糖", "阿May", "一只喵", "Lily", "木子", "西瓜太甜",
    "Coco", "安然", "半夏", "Vivian", "橘子汽水", "Joyce", "向日葵", "小太阳", "Eva",
]  # fmt: skip
DEPARTMENTS = ["导购一组", "导购二组", "客服中心", "会员运营", "直播团队", "华东门店", "华南门店"]
POSITIONS = ["导购", "资深导购", "客服专员", "会员顾问", "店长"]
TAG_LIBRARY = [
    ("客户等级", ["VIP", "普通会员", "潜在客户"]),
    ("兴趣偏好", ["护肤", "彩妆", "香氛", "身体护理"]),
    ("来源渠道", ["门店", "直播间", "小红书", "天猫"]),
]


def chinese_name(state: SimState) -> tuple[str, str]:
    """A realistic name and its pinyin."""
    surname, surname_py = state.rng.choice(SURNAMES)
    parts = [state.rng.choice(GIVEN) for _ in range(state.rng.choice((1, 2)))]
    return surname + "".join(c for c, _ in parts), surname_py + "".join(p for _, p in parts)


def add_department(state: SimState, name: str, parentid: int = 1) -> Department:
    with state.lock:
        new_id = max(state.departments) + 1
        department = Department(new_id, name, parentid, 100_000_000 - new_id * 1000)
        state.departments[new_id] = department
        return department


def add_member(
    state: SimState,
    name: str | None = None,
    *,
    userid: str | None = None,
    department: list[int] | None = None,
    position: str = "导购",
) -> Member:
    with state.lock:
        generated, pinyin = chinese_name(state)
        userid = userid or pinyin
        suffix = 2
        base = userid
        while userid in state.members:
            userid, suffix = f"{base}{suffix}", suffix + 1
        member = Member(
            userid=userid,
            name=name or generated,
            department=department or [1],
            position=position,
            mobile=f"1{state.rng.choice('3589')}{state.rng.randrange(10**9):09d}",
            gender=state.rng.choice(("1", "2")),
            email=f"{userid}@example.com",
            open_userid=state.random_id("wo", 30),
        )
        state.members[userid] = member
        return member


def add_contact(
    state: SimState, name: str | None = None, *, external_userid: str | None = None
) -> ExternalContact:
    with state.lock:
        if name is None:
            name = (
                chinese_name(state)[0] if state.rng.random() < 0.6 else state.rng.choice(NICKNAMES)
            )
        contact = ExternalContact(
            external_userid=external_userid or state.new_external_userid(),
            name=name,
            gender=state.rng.choice((0, 1, 2)),
            avatar=f"https://wework.qpic.cn/wwhead/{state.random_id('', 24)}/0",
            unionid=state.random_id("o", 27),
        )
        state.contacts[contact.external_userid] = contact
        return contact


def add_follow(
    state: SimState,
    userid: str,
    external_userid: str,
    *,
    add_way: int = 1,
    state_value: str = "",
    tag_ids: list[str] | None = None,
    remark: str = "",
    createtime: int | None = None,
) -> FollowInfo:
    with state.lock:
        follow = FollowInfo(
            userid=userid,
            external_userid=external_userid,
            createtime=createtime if createtime is not None else state.now_int(),
            remark=remark,
            tag_ids=list(tag_ids or []),
            oper_userid=external_userid,
            add_way=add_way,
            state=state_value,
        )
        state.follows[(userid, external_userid)] = follow
        return follow


def add_tag_group(
    state: SimState, group_name: str, tag_names: list[str], *, order: int = 0
) -> TagGroup:
    with state.lock:
        created = state.now_int()
        group = TagGroup(state.new_tag_id(), group_name, created, order)
        state.tag_groups[group.group_id] = group
        for index, tag_name in enumerate(tag_names):
            add_tag(state, group, tag_name, order=len(tag_names) - index)
        return group


def add_tag(state: SimState, group: TagGroup, name: str, *, order: int = 0) -> Tag:
    with state.lock:
        tag = Tag(state.new_tag_id(), name, group.group_id, state.now_int(), order)
        state.tags[tag.id] = tag
        group.tag_ids.append(tag.id)
        return tag


def add_group_chat(
    state: SimState, owner: str, name: str, external_userids: list[str]
) -> GroupChat:
    with state.lock:
        created = state.now_int()
        chat = GroupChat(
            chat_id=state.new_chat_id(),
            name=name,
            owner=owner,
            create_time=created,
            members=[ChatMember(owner, 1, created, 1)],
            admin_list=[],
            member_version=state.new_member_version(),
        )
        for external_userid in external_userids:
            chat.members.append(ChatMember(external_userid, 2, created, 3, invitor=owner))
        state.groups[chat.chat_id] = chat
        return chat


def seed_org(state: SimState) -> None:
    """Fill `state` from its config with the same rng: the same config gives the same corp."""
    config = state.config
    day = 24 * 3600
    start = state.now_int() - 365 * day
    departments = [
        add_department(state, DEPARTMENTS[i % len(DEPARTMENTS)] + ("" if i < 7 else str(i)))
        for i in range(config.departments)
    ]
    staff = []
    for _ in range(config.staff):
        home = [state.rng.choice(departments).id] if departments else [1]
        staff.append(add_member(state, department=home, position=state.rng.choice(POSITIONS)))
    tags: list[str] = []
    if config.tag_groups:
        for order, (group_name, tag_names) in enumerate(reversed(TAG_LIBRARY)):
            tags.extend(add_tag_group(state, group_name, tag_names, order=order + 1).tag_ids)
    if not staff:
        return
    contacts = []
    for _ in range(config.contacts):
        contact = add_contact(state)
        contacts.append(contact)
        followers = state.rng.sample(
            staff, k=1 if state.rng.random() < 0.85 else min(2, len(staff))
        )
        for member in followers:
            chosen = state.rng.sample(tags, k=state.rng.randint(0, min(3, len(tags))))
            add_follow(
                state,
                member.userid,
                contact.external_userid,
                add_way=state.rng.choice((1, 1, 1, 2, 3, 4)),
                tag_ids=chosen,
                createtime=start + state.rng.randrange(365 * day),
            )
    for index in range(config.groups):
        owner = state.rng.choice(staff)
        picked = state.rng.sample(contacts, k=min(len(contacts), state.rng.randint(3, 30)))
        add_group_chat(
            state,
            owner.userid,
            f"{config.corp_name}会员群{index + 1}",
            [c.external_userid for c in picked],
        )
