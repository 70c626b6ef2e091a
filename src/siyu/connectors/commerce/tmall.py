"""淘宝/天猫 订单报表 (千牛 → 交易 → 已卖出的宝贝 → 批量导出): one row per order."""

from siyu.connectors.commerce import OrderStatus, Platform, PlatformFormat

S = OrderStatus

TMALL = PlatformFormat(
    platform=Platform.TMALL,
    label="淘宝/天猫 订单报表",
    columns={
        "order_id": ("订单编号",),
        "status": ("订单状态",),
        "ordered_at": ("订单创建时间",),
        "paid_at": ("订单付款时间",),
        "paid": ("买家实际支付金额",),
        "total": ("买家应付货款", "总金额"),
        "shipping": ("买家应付邮费",),
        "refunded": ("退款金额",),
        "buyer_id": ("买家会员名",),
        "buyer_nick": ("买家会员名",),
        "receiver_name": ("收货人姓名",),
        "receiver_mobile": ("联系手机", "联系电话"),
        "receiver_address": ("收货地址",),
        "store": ("店铺名称",),
        "item_name": ("宝贝标题",),
        "item_sku": ("商家编码",),
        "item_quantity": ("宝贝总数量",),
        "item_amount": ("买家应付货款", "总金额"),
    },
    statuses={
        "等待买家付款": S.PENDING,
        "买家已付款，等待卖家发货": S.PAID,
        "等待卖家发货": S.PAID,
        "卖家部分发货": S.PAID,
        "卖家已发货，等待买家确认": S.SHIPPED,
        "等待买家确认收货": S.SHIPPED,
        "交易成功": S.COMPLETED,
        "交易关闭": S.CANCELLED,
        "付款以前，卖家或买家主动关闭交易": S.CANCELLED,
        "付款以后用户退款成功，交易自动关闭": S.REFUNDED,
    },
    signature=("订单编号", "买家会员名", "买家实际支付金额"),
)
