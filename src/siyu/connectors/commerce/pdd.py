"""拼多多 商家后台 订单查询 → 导出: one row per order (one SKU each)."""

from siyu.connectors.commerce import OrderStatus, Platform, PlatformFormat

S = OrderStatus

PDD = PlatformFormat(
    platform=Platform.PDD,
    label="拼多多 订单导出",
    columns={
        "order_id": ("订单号",),
        "status": ("订单状态",),
        "ordered_at": ("订单成交时间", "支付时间"),
        "paid_at": ("支付时间",),
        "paid": ("用户实付金额(元)", "用户实付金额（元）"),
        "total": ("商品总价(元)", "商品总价（元）"),
        "shipping": ("邮费(元)", "邮费（元）"),
        "discount": ("店铺优惠折扣(元)", "店铺优惠折扣（元）"),
        "platform_discount": ("平台优惠折扣(元)", "平台优惠折扣（元）"),
        "receiver_name": ("收货人",),
        "receiver_mobile": ("手机",),
        "receiver_province": ("省",),
        "receiver_city": ("市",),
        "receiver_district": ("区",),
        "receiver_address": ("街道",),
        "store": ("店铺名称",),
        "item_name": ("商品",),
        "item_product_id": ("商品id", "商品ID"),
        "item_sku": ("商家编码-SKU维度", "商家编码-商品维度", "样式ID"),
        "item_quantity": ("商品数量(件)", "商品数量（件）"),
        "item_amount": ("商品总价(元)", "商品总价（元）"),
    },
    statuses={
        "待支付": S.PENDING,
        "待发货": S.PAID,
        "已发货，待签收": S.SHIPPED,
        "已发货，待收货": S.SHIPPED,
        "已签收": S.COMPLETED,
        "已收货": S.COMPLETED,
        "已取消": S.CANCELLED,
        "未发货，退款成功": S.REFUNDED,
        "已发货，退款成功": S.REFUNDED,
        "已签收，退款成功": S.REFUNDED,
    },
    signature=("订单号", "商品总价(元)", "用户实付金额(元)"),
    item_rows=True,
)
