"""Vocabularies for the demo brand 山茶集, a mid-size tea & lifestyle brand.

It sells on Tmall, JD and Pinduoduo, through a WeChat mini-program and in 12 stores in
华东 and 华南. The demo loader and the benchmark generator draw from these lists.
"""

from dataclasses import dataclass

BRAND_NAME = "山茶集"
WORKSPACE_SLUG = "demo"
DEMO_CUSTOMERS = 2000
LOGIN_EMAIL = "demo@siyu.local"
LOGIN_PASSWORD = "siyu-demo-2024"  # noqa: S105 - the published demo login, printed on start

# Common surnames, most frequent first (weights roughly follow their share of the population).
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_FEMALE = "婷雪静丽娟敏燕艳芳慧琳欣怡颖洁佳倩雯晶玲莉蕾萱涵梓诗雨晴月薇瑶妍琪悦嘉宁菲蓉"
GIVEN_MALE = "伟强磊军杰涛斌勇超明辉鹏浩宇轩博然俊凯文华建国志鑫晨阳峰毅航睿泽楠昊哲彬亮"
GIVEN_NEUTRAL = "子一思梦晓小天可心安乐言之清书雅嘉佳欣"

# (province, city, weight): the brand's customers cluster in 华东 and 华南.
REGIONS: tuple[tuple[str, str, int], ...] = (
    ("上海市", "上海市", 22),
    ("浙江省", "杭州市", 12),
    ("浙江省", "宁波市", 4),
    ("浙江省", "温州市", 3),
    ("江苏省", "南京市", 7),
    ("江苏省", "苏州市", 8),
    ("江苏省", "无锡市", 3),
    ("广东省", "广州市", 10),
    ("广东省", "深圳市", 11),
    ("广东省", "佛山市", 3),
    ("广东省", "东莞市", 2),
    ("福建省", "厦门市", 4),
    ("福建省", "福州市", 2),
    ("北京市", "北京市", 4),
    ("四川省", "成都市", 2),
    ("湖北省", "武汉市", 2),
    ("安徽省", "合肥市", 1),
)

# Mobile number segments of China Mobile, China Unicom and China Telecom (13x/15x/18x).
MOBILE_PREFIXES = tuple(
    f"{head}{digit}"
    for head, digits in (("13", "0123456789"), ("15", "012356789"), ("18", "0123456789"))
    for digit in digits
)

# (channel label on the customer, weight)
SOURCES: tuple[tuple[str, int], ...] = (
    ("渠道活码", 30),
    ("天猫", 25),
    ("京东", 12),
    ("拼多多", 8),
    ("门店", 17),
    ("小程序", 8),
)

# Lifecycle stages with weights; the stage decides how many orders and events a person has.
LIFECYCLE_STAGES: tuple[tuple[str, int], ...] = (
    ("new", 22),
    ("active", 33),
    ("loyal", 15),
    ("dormant", 20),
    ("churned", 10),
)
LIFECYCLE_LABELS = {
    "new": "新客",
    "active": "活跃",
    "loyal": "忠诚",
    "dormant": "沉睡",
    "churned": "流失",
}


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    category: str
    price_fen: int


PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("SCJ-LJ-250", "明前西湖龙井 特级 250g 罐装", "绿茶", 39800),
    ProductSpec("SCJ-BLC-100", "洞庭碧螺春 一级 100g", "绿茶", 15800),
    ProductSpec("SCJ-TGY-250", "安溪铁观音 浓香型 250g", "乌龙茶", 16800),
    ProductSpec("SCJ-DHP-200", "武夷山大红袍 岩茶 200g 礼盒", "乌龙茶", 26800),
    ProductSpec("SCJ-DC-8", "凤凰单丛 蜜兰香 8 泡装", "乌龙茶", 12800),
    ProductSpec("SCJ-PE-357", "云南普洱熟茶饼 2018 年 357g", "普洱", 22800),
    ProductSpec("SCJ-XP-10", "新会小青柑 普洱 10 颗装", "普洱", 13800),
    ProductSpec("SCJ-BMD-150", "福鼎白茶 白牡丹 150g 饼", "白茶", 18800),
    ProductSpec("SCJ-SMY-300", "福鼎寿眉 老白茶 300g", "白茶", 16900),
    ProductSpec("SCJ-ZSXZ-125", "正山小种 红茶 125g", "红茶", 11800),
    ProductSpec("SCJ-DH-100", "滇红金芽 100g", "红茶", 14800),
    ProductSpec("SCJ-MLH-100", "茉莉花茶 飘雪 100g", "花草茶", 8800),
    ProductSpec("SCJ-GHWL-20", "桂花乌龙 三角茶包 20 袋", "花草茶", 3990),
    ProductSpec("SCJ-LP-7", "冷泡茶 一周组合装 7 袋", "花草茶", 5900),
    ProductSpec("SCJ-TJ-RY", "汝窑茶具套装 一壶四杯", "茶具", 45900),
    ProductSpec("SCJ-TJ-LX", "便携旅行茶具 快客杯", "茶具", 19900),
    ProductSpec("SCJ-GDB", "手工玻璃公道杯 300ml", "茶具", 7900),
    ProductSpec("SCJ-CP-ZZ", "竹制干泡茶盘", "茶具", 25900),
    ProductSpec("SCJ-HSS", "山茶花护手霜 50g", "香氛个护", 6900),
    ProductSpec("SCJ-LZ", "山茶花香薰蜡烛 200g", "香氛个护", 12900),
    ProductSpec("SCJ-XFL", "山茶油洗发露 500ml", "香氛个护", 8900),
    ProductSpec("SCJ-LDG", "绿豆糕 茶点 12 枚", "茶点", 3600),
    ProductSpec("SCJ-ZQ-LH", "中秋茶礼 月饼茶叶礼盒", "礼盒", 59800),
    ProductSpec("SCJ-XN-LH", "新年茶礼 六大茶类典藏礼盒", "礼盒", 88800),
)

# Where each customer source buys: the order platform (`siyu.connectors.commerce.Platform`).
# Store tills export the generic format and name the store; the mini-program shop runs on Youzan.
SOURCE_PLATFORM = {
    "渠道活码": "tmall",
    "天猫": "tmall",
    "京东": "jd",
    "拼多多": "pdd",
    "门店": "generic",
    "小程序": "youzan",
}


@dataclass(frozen=True)
class DepartmentSpec:
    key: str
    name: str
    parent: str | None


DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("hq", "总部", None),
    DepartmentSpec("ecom", "电商中心", "hq"),
    DepartmentSpec("service", "客服中心", "hq"),
    DepartmentSpec("east", "华东大区", "hq"),
    DepartmentSpec("sh", "上海", "east"),
    DepartmentSpec("sh-xh", "徐汇店", "sh"),
    DepartmentSpec("sh-ja", "静安店", "sh"),
    DepartmentSpec("sh-pd", "浦东店", "sh"),
    DepartmentSpec("hz", "杭州", "east"),
    DepartmentSpec("hz-xh", "西湖店", "hz"),
    DepartmentSpec("hz-bj", "滨江店", "hz"),
    DepartmentSpec("nj", "南京", "east"),
    DepartmentSpec("nj-xjk", "新街口店", "nj"),
    DepartmentSpec("sz", "苏州", "east"),
    DepartmentSpec("sz-gq", "观前街店", "sz"),
    DepartmentSpec("south", "华南大区", "hq"),
    DepartmentSpec("gz", "广州", "south"),
    DepartmentSpec("gz-th", "天河店", "gz"),
    DepartmentSpec("gz-yx", "越秀店", "gz"),
    DepartmentSpec("shenzhen", "深圳", "south"),
    DepartmentSpec("shenzhen-ns", "南山店", "shenzhen"),
    DepartmentSpec("shenzhen-ft", "福田店", "shenzhen"),
    DepartmentSpec("xm", "厦门", "south"),
    DepartmentSpec("xm-zs", "中山路店", "xm"),
)
STORE_KEYS = tuple(d.key for d in DEPARTMENTS if d.name.endswith("店"))
STORE_CITY = {
    "sh": "上海市",
    "hz": "杭州市",
    "nj": "南京市",
    "sz": "苏州市",
    "gz": "广州市",
    "shenzhen": "深圳市",
    "xm": "厦门市",
}


@dataclass(frozen=True)
class StaffSpec:
    userid: str
    name: str
    position: str
    department: str


STAFF: tuple[StaffSpec, ...] = (
    StaffSpec("zhouyun", "周云", "私域运营经理", "hq"),
    StaffSpec("linxiaoyu", "林晓雨", "天猫店长", "ecom"),
    StaffSpec("hejiaqi", "何佳琪", "京东运营", "ecom"),
    StaffSpec("chenmo", "陈默", "客服主管", "service"),
    StaffSpec("wangtingting", "王婷婷", "客服", "service"),
    StaffSpec("zhaolei", "赵磊", "客服", "service"),
    StaffSpec("xuming", "徐明", "店长", "sh-xh"),
    StaffSpec("sunli", "孙丽", "导购", "sh-xh"),
    StaffSpec("liuyang", "刘洋", "店长", "sh-ja"),
    StaffSpec("gaoxue", "高雪", "导购", "sh-pd"),
    StaffSpec("wujing", "吴静", "店长", "hz-xh"),
    StaffSpec("zhenghao", "郑浩", "导购", "hz-bj"),
    StaffSpec("majun", "马骏", "导购", "nj-xjk"),
    StaffSpec("songyi", "宋怡", "导购", "sz-gq"),
    StaffSpec("huangwei", "黄伟", "店长", "gz-th"),
    StaffSpec("liangyan", "梁燕", "导购", "gz-yx"),
    StaffSpec("luoxin", "罗欣", "店长", "shenzhen-ns"),
    StaffSpec("xiejie", "谢杰", "导购", "shenzhen-ft"),
    StaffSpec("linfang", "林芳", "导购", "xm-zs"),
    StaffSpec("tangning", "唐宁", "导购", "xm-zs"),
)

TAG_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("客户等级", ("普通会员", "银卡会员", "金卡会员", "黑金会员")),
    ("兴趣偏好", ("绿茶", "乌龙茶", "普洱", "白茶", "红茶", "花草茶", "茶具", "香氛个护")),
    ("购买渠道", ("天猫", "京东", "拼多多", "门店", "小程序")),
    ("活动参与", ("618大促", "双11", "年货节", "直播间互动", "新品试饮", "会员日")),
    ("生命周期", tuple(LIFECYCLE_LABELS.values())),
)


@dataclass(frozen=True)
class EventTypeSpec:
    name: str
    display_name: str
    properties: dict[str, str]  # property name -> JSON Schema type
    weight: int
    # Properties with their own daily counters, for "viewed category X ≥ 3 times" segments.
    counted: tuple[str, ...] = ()


EVENT_TYPES: tuple[EventTypeSpec, ...] = (
    EventTypeSpec("page_view", "浏览页面", {"page": "string", "referrer": "string"}, 30),
    EventTypeSpec(
        "product_view",
        "浏览商品",
        {"sku": "string", "product_name": "string", "category": "string"},
        25,
        counted=("category",),
    ),
    EventTypeSpec("add_to_cart", "加入购物车", {"sku": "string", "quantity": "integer"}, 8),
    EventTypeSpec("coupon_received", "领取优惠券", {"coupon": "string", "value_fen": "integer"}, 8),
    EventTypeSpec("article_read", "阅读文章", {"title": "string"}, 10),
    EventTypeSpec(
        "live_stream_watch", "观看直播", {"room": "string", "duration_seconds": "integer"}, 6
    ),
    EventTypeSpec("mini_program_open", "打开小程序", {"scene": "string"}, 9),
    EventTypeSpec("store_visit", "到店", {"store": "string"}, 4),
)

PAGES = ("/home", "/category/green-tea", "/category/oolong", "/member", "/gift", "/new-arrivals")
REFERRERS = ("wecom_chat", "moments", "official_account", "search", "live_code")
COUPONS = (("新人立减20元", 2000), ("满299减50", 5000), ("会员日9折券", 0), ("茶具满减券", 3000))
ARTICLES = (
    "春茶上新：明前龙井的三个辨别要点",
    "冷泡茶怎么泡才不苦？",
    "白茶的“一年茶三年药七年宝”是真的吗",
    "办公室也能优雅喝茶：便携茶具指南",
    "中秋送礼，茶礼盒怎么选",
)
LIVE_ROOMS = ("周三茶课直播间", "天猫旗舰店直播间", "新品试饮直播")
MINI_PROGRAM_SCENES = ("chat_card", "qr_code", "moments", "search")
