"""Message templates: cut once, filled per recipient."""

from siyu.messaging.rendering import Recipient, Template, fill

SHORT = {
    "https://shop.example.cn/d12": "https://s.cn/l/AAAA",
    "https://x.cn/?c=7": "https://s.cn/l/B",
}


def person(name: str | None, **custom: str) -> Recipient:
    return Recipient(1, 2, "a@b.cn", 3, None, name, "小李", custom)


def test_a_template_fills_variables_and_tracks_each_link() -> None:
    template = Template(
        '<p>{客户昵称}，您好</p><a href="https://shop.example.cn/d12">领取</a>'
        "{员工姓名} {custom:level} https://shop.example.cn/d12 {unknown}"
    )

    text = template.render(person("王<芳>", level="金卡"), SHORT, escape=True)

    assert text == (
        '<p>王&lt;芳&gt;，您好</p><a href="https://s.cn/l/AAAA">领取</a>'
        "小李 金卡 https://s.cn/l/AAAA {unknown}"
    )


def test_a_value_that_looks_like_a_variable_or_a_marker_is_left_as_it_is() -> None:
    template = Template("{客户昵称} / {员工姓名} https://shop.example.cn/d12")

    text = template.render(person("{员工姓名}\x00x\x00"), SHORT, escape=False)

    assert text == "{员工姓名}\x00x\x00 / 小李 https://s.cn/l/AAAA"


def test_a_link_built_from_a_variable_is_found_after_filling() -> None:
    template = Template("领取 https://x.cn/?c={custom:code}")

    assert template.render(person("王芳", code="7"), SHORT, escape=False) == "领取 https://s.cn/l/B"
    assert fill("{客户昵称}", person(None)) == ""
