"""抖店 订单管理 → 批量导出: one row per 子订单 (item), grouped by 主订单编号."""

from siyu.connectors.commerce import OrderStatus, Platform, PlatformFormat

S = OrderStatus

DOUYIN = PlatformFormat(
    platform=Platform.DOUYIN,
    label="抖店 订单导出",
    columns={
        "order_id": ("主订单编号",),
        "status": ("订单状态",),
        "ordered_at": ("订单提交时间",),
        "paid_at": ("支付完成时间",),
        "paid": ("订单应付金额",),
        "shipping": ("运费",),
        "discount": ("优惠总金额",),
        "receiver_name": ("收件人",),
        "receiver_mobile": ("收件人手机号",),
        "receiver_province": ("省",),
        "receiver_city": ("市",),
        "receiver_district": ("区",),
        "receiver_address": ("详细地址", "街道"),
        "store": ("店铺名称",),
        "item_name": ("选购商品",),
        "item_product_id": ("商品ID",),
        "item_sku": ("商家编码",),
        "item_quantity": ("商品数量",),
        "item_unit_price": ("商品单价", "商品金额"),
        "item_amount": ("订单应付金额",),
    },
    statuses={
        "待支付": S.PENDING,
        "待确认": S.PAID,
        "备货中": S.PAID,
        "待发货": S.PAID,
        "部分发货": S.PAID,
        "已发货": S.SHIPPED,
        "已完成": S.COMPLETED,
        "已关闭": S.CANCELLED,
        "已取消": S.CANCELLED,
    },
    signature=("主订单编号", "子订单编号", "选购商品"),
    item_rows=True,
    amounts_per_row=True,
)
