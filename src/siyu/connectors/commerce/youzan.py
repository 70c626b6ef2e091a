"""有赞 订单导出 (订单维度 or 商品维度; the item view repeats the order columns)."""

from siyu.connectors.commerce import OrderStatus, Platform, PlatformFormat

S = OrderStatus

YOUZAN = PlatformFormat(
    platform=Platform.YOUZAN,
    label="有赞 订单导出",
    columns={
        "order_id": ("订单号",),
        "status": ("订单状态",),
        "ordered_at": ("订单创建时间",),
        "paid_at": ("买家付款时间",),
        "paid": ("订单实付金额",),
        "total": ("商品金额合计",),
        "shipping": ("运费",),
        "discount": ("订单优惠金额", "优惠金额"),
        "refunded": ("订单已退款金额", "已退款金额"),
        "buyer_id": ("买家ID", "粉丝ID"),
        "buyer_nick": ("买家昵称",),
        "receiver_name": ("收货人/提货人", "收货人"),
        "receiver_mobile": ("收货人手机号/提货人手机号", "收货人手机号"),
        "receiver_province": ("收货人省份",),
        "receiver_city": ("收货人城市",),
        "receiver_district": ("收货人地区", "收货人区县"),
        "receiver_address": ("详细收货地址/提货地址", "详细收货地址"),
        "store": ("归属店铺", "店铺名称"),
        "item_name": ("商品名称",),
        "item_product_id": ("商品ID", "商品id"),
        "item_sku": ("商品编码", "规格编码"),
        "item_quantity": ("商品数量",),
        "item_unit_price": ("商品单价",),
        "item_amount": ("商品实际成交金额", "商品金额小计"),
    },
    statuses={
        "待付款": S.PENDING,
        "待成团": S.PAID,
        "待发货": S.PAID,
        "已付款": S.PAID,
        "部分发货": S.PAID,
        "已发货": S.SHIPPED,
        "待收货": S.SHIPPED,
        "已完成": S.COMPLETED,
        "交易成功": S.COMPLETED,
        "已关闭": S.CANCELLED,
        "交易关闭": S.CANCELLED,
        "已退款": S.REFUNDED,
    },
    signature=("订单号", "订单实付金额", "订单创建时间"),
    item_rows=True,
)
