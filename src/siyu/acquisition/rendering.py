"""Variables in welcome messages and remarks: {客户昵称}, {员工姓名}, {渠道}."""

from collections.abc import Mapping

CUSTOMER_NAME = "客户昵称"
STAFF_NAME = "员工姓名"
CHANNEL = "渠道"
VARIABLES = (CUSTOMER_NAME, STAFF_NAME, CHANNEL)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill known variables; unknown braces stay as written."""
    text = template
    for name in VARIABLES:
        text = text.replace("{" + name + "}", values.get(name, ""))
    return text
