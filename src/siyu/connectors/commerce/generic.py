"""The generic order template (docs/imports.md): one row per item, order columns repeated."""

from siyu.connectors.commerce import OrderStatus, Platform, PlatformFormat

S = OrderStatus

GENERIC = PlatformFormat(
    platform=Platform.GENERIC,
    label="通用订单模板",
    columns={
        "order_id": ("订单号",),
        "status": ("订单状态",),
        "ordered_at": ("下单时间",),
        "paid_at": ("付款时间",),
        "paid": ("实付金额",),
        "total": ("商品金额",),
        "shipping": ("运费",),
        "discount": ("优惠金额",),
        "refunded": ("退款金额",),
        "buyer_id": ("买家ID",),
        "buyer_nick": ("买家昵称",),
        "receiver_name": ("收货人",),
        "receiver_mobile": ("收货人手机",),
        "receiver_province": ("省",),
        "receiver_city": ("市",),
        "receiver_district": ("区",),
        "receiver_address": ("详细地址",),
        "store": ("店铺",),
        "item_name": ("商品名称",),
        "item_product_id": ("商品编号",),
        "item_sku": ("SKU编码",),
        "item_quantity": ("数量",),
        "item_unit_price": ("单价",),
        "item_amount": ("商品小计",),
    },
    statuses={
        **{status.value: status for status in OrderStatus},
        "待付款": S.PENDING,
        "已付款": S.PAID,
        "已发货": S.SHIPPED,
        "已完成": S.COMPLETED,
        "已取消": S.CANCELLED,
        "已退款": S.REFUNDED,
    },
    signature=("订单号", "下单时间", "实付金额"),
    item_rows=True,
)
