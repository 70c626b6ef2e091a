"""The seeded account: signs and templates of a beauty brand, as an approved account has them.

Marketing templates end with the opt-out text carriers require ("拒收请回复R" or "回T退订");
one sign and one template are still under review or were rejected, so tests and the demo
can show what happens when they are used.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from siyu.connectors.aliyun_sms_sim.state import SimState

VERIFICATION_CODE = "SMS_468250001"
SHIPPED = "SMS_468250002"
POINTS_EXPIRING = "SMS_468250003"
MEMBER_DAY = "SMS_468250004"
NEW_PRODUCT = "SMS_468250005"
REJECTED = "SMS_468250006"


def seed_catalog(state: "SimState", brand: str) -> None:
    from siyu.connectors.aliyun_sms_sim.state import Sign, Template  # noqa: PLC0415

    signs = [
        Sign(brand),
        Sign(
            f"{brand}会员中心", audit_status="AUDIT_STATE_INIT", create_date="2025-06-01 09:30:00"
        ),
    ]
    templates = [
        Template(
            VERIFICATION_CODE,
            "登录验证码",
            "您的验证码为${code}，5分钟内有效，请勿泄露给他人。",
            0,
        ),
        Template(
            SHIPPED,
            "发货通知",
            f"亲爱的${{name}}，您在{brand}购买的${{product}}已发货，"
            "快递单号${tracking}，请留意查收。",
            1,
        ),
        Template(
            POINTS_EXPIRING,
            "积分到期提醒",
            f"${{name}}您好，您有${{points}}积分将于${{date}}到期，可在{brand}小程序兑换好礼。",
            1,
        ),
        Template(
            MEMBER_DAY,
            "会员日",
            f"${{name}}您好，{brand}会员日全场满299减50，${{date}}截止，"
            "进入小程序即可领券，拒收请回复R",
            2,
        ),
        Template(
            NEW_PRODUCT,
            "新品上市",
            f"{brand}新品「雪融山茶精华」上市，会员专享8折，回T退订",
            2,
        ),
        Template(
            REJECTED,
            "清仓甩卖",
            "全场清仓一折起，速来抢购！",
            2,
            audit_status="AUDIT_STATE_NOT_PASS",
            reject_info="推广短信须包含退订方式（如「拒收请回复R」）",
        ),
    ]
    for sign in signs:
        state.signs[sign.sign_name] = sign
    for template in templates:
        state.templates[template.template_code] = template
