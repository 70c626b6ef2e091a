"""京东 商家后台 订单导出 (订单查询与跟踪 → 导出): one row per item."""

from siyu.connectors.commerce import OrderStatus, Platform, PlatformFormat

S = OrderStatus

JD = PlatformFormat(
    platform=Platform.JD,
    label="京东 订单导出",
    columns={
        "order_id": ("订单号",),
        "status": ("订单状态",),
        "ordered_at": ("下单时间",),
        "paid_at": ("付款确认时间", "支付时间"),
        "paid": ("应付金额", "结算金额"),
        "total": ("订单金额",),
        "shipping": ("运费金额", "运费"),
        "discount": ("优惠金额", "商家优惠金额"),
        "buyer_id": ("下单帐号", "下单账号"),
        "buyer_nick": ("下单帐号", "下单账号"),
        "receiver_name": ("客户姓名",),
        "receiver_mobile": ("联系电话",),
        "receiver_address": ("客户地址",),
        "store": ("店铺名称",),
        "item_name": ("商品名称",),
        "item_product_id": ("商品ID",),
        "item_sku": ("商家SKUID", "商品货号"),
        "item_quantity": ("订购数量",),
        "item_unit_price": ("京东价",),
    },
    statuses={
        "等待付款": S.PENDING,
        "等待出库": S.PAID,
        "等待发货": S.PAID,
        "等待确认收货": S.SHIPPED,
        "已发货": S.SHIPPED,
        "完成": S.COMPLETED,
        "已完成": S.COMPLETED,
        "已取消": S.CANCELLED,
        "(删除)已取消": S.CANCELLED,
        "锁定": S.CANCELLED,
        "退款成功": S.REFUNDED,
    },
    signature=("订单号", "下单帐号", "京东价"),
    item_rows=True,
)
