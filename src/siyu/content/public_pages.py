"""The small HTML pages customers see: missing links, limits, the preference page.

Rendered on the server, with inline CSS and no scripts or external assets: they open at
once in WeChat's and WeCom's in-app browsers and in mail clients, work without
JavaScript (a mail client's one-click unsubscribe never runs any), and do not load the
console's bundle on a customer's phone. Simplified Chinese first; English when the
browser asks for it first.
"""

from dataclasses import dataclass
from html import escape

from fastapi.responses import HTMLResponse

Lang = str  # "zh" | "en"

_STYLE = """
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei",
sans-serif;background:#f3f3f3;color:#222;line-height:1.6}
main{max-width:480px;margin:0 auto;padding:32px 20px}
.card{background:#fff;border-radius:12px;padding:24px 20px;box-shadow:0 1px 3px #0001}
h1{font-size:20px;margin:0 0 8px}p{margin:8px 0;color:#555}
.state{font-size:15px;color:#222}.off{color:#d54941}.on{color:#2ba471}
form{margin:0}button{display:block;width:100%;margin-top:12px;padding:12px;font-size:16px;
border-radius:8px;border:1px solid #0052d9;background:#0052d9;color:#fff}
button.secondary{background:#fff;color:#0052d9}
.note{font-size:13px;color:#888;margin-top:20px}
""".replace("\n", "")

CHANNEL_NAMES: dict[str, dict[Lang, str]] = {
    "wecom": {"zh": "企业微信消息", "en": "WeCom messages"},
    "sms": {"zh": "短信", "en": "text messages (SMS)"},
    "email": {"zh": "邮件", "en": "email"},
    "all": {"zh": "全部消息", "en": "all messages"},
}

_TEXT: dict[str, dict[Lang, str]] = {
    "not_found_title": {"zh": "链接不存在或已失效", "en": "This link does not exist"},
    "not_found_body": {
        "zh": "请检查链接是否完整，或联系发送给您的顾问。",
        "en": "Check that the link is complete, or ask whoever sent it to you.",
    },
    "limited_title": {"zh": "访问太频繁了", "en": "Too many requests"},
    "limited_body": {
        "zh": "请 {seconds} 秒后再试。",
        "en": "Please try again in {seconds} seconds.",
    },
    "invalid_title": {"zh": "链接无效", "en": "This link is not valid"},
    "invalid_body": {
        "zh": "这个退订链接不完整或已被修改，未做任何更改。",
        "en": "This unsubscribe link is incomplete or was altered; nothing was changed.",
    },
    "prefs_title": {"zh": "消息订阅设置", "en": "Message preferences"},
    "subscribed": {"zh": "您正在接收{channel}。", "en": "You receive {channel}."},
    "opted_out": {"zh": "您已退订{channel}。", "en": "You have unsubscribed from {channel}."},
    "opted_out_all": {
        "zh": "您已退订全部消息。",
        "en": "You have unsubscribed from all messages.",
    },
    "opt_out": {"zh": "退订{channel}", "en": "Unsubscribe from {channel}"},
    "opt_out_all": {"zh": "退订全部消息", "en": "Unsubscribe from all messages"},
    "opt_in": {"zh": "重新订阅{channel}", "en": "Subscribe to {channel} again"},
    "opt_in_all": {"zh": "重新订阅全部消息", "en": "Subscribe to all messages again"},
    "saved": {"zh": "已保存。", "en": "Saved."},
    "note": {
        "zh": "退订后我们将不再通过该渠道向您发送营销消息，您可随时在此页面重新订阅。",
        "en": "Once unsubscribed you get no marketing messages on that channel; you can "
        "subscribe again on this page at any time.",
    },
}


def language(accept_language: str | None) -> Lang:
    """English only when the browser prefers it to Chinese; Chinese otherwise."""
    header = (accept_language or "").lower()
    en, zh = header.find("en"), header.find("zh")
    return "en" if en != -1 and (zh == -1 or en < zh) else "zh"


def _t(key: str, lang: Lang, **values: str) -> str:
    return _TEXT[key][lang].format(**values)


def _page(
    title: str, body: str, lang: Lang, status: int, headers: dict[str, str] | None = None
) -> HTMLResponse:
    html_lang = "zh-CN" if lang == "zh" else "en"
    document = (
        f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="card">{body}</div></main></body></html>'
    )
    response = HTMLResponse(document, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    )
    return response


def _message(title_key: str, body_key: str, lang: Lang, status: int, **values: str) -> HTMLResponse:
    title = _t(title_key, lang)
    body = f"<h1>{escape(title)}</h1><p>{escape(_t(body_key, lang, **values))}</p>"
    return _page(title, body, lang, status)


def not_found(lang: Lang) -> HTMLResponse:
    return _message("not_found_title", "not_found_body", lang, 404)


def invalid_token(lang: Lang) -> HTMLResponse:
    return _message("invalid_title", "invalid_body", lang, 400)


def too_many_requests(lang: Lang, retry_after: int) -> HTMLResponse:
    response = _message("limited_title", "limited_body", lang, 429, seconds=str(retry_after))
    response.headers["Retry-After"] = str(retry_after)
    return response


@dataclass(frozen=True)
class PreferenceView:
    channel: str
    channel_out: bool
    all_out: bool
    saved: bool = False


def preferences(view: PreferenceView, action_url: str, lang: Lang) -> HTMLResponse:
    """The page: where the customer stands on the link's channel, and the buttons to change it."""
    channel = CHANNEL_NAMES.get(view.channel, {"zh": view.channel, "en": view.channel})[lang]
    title = _t("prefs_title", lang)
    if view.all_out:
        state = f'<p class="state off">{escape(_t("opted_out_all", lang))}</p>'
    elif view.channel_out:
        state = f'<p class="state off">{escape(_t("opted_out", lang, channel=channel))}</p>'
    else:
        state = f'<p class="state on">{escape(_t("subscribed", lang, channel=channel))}</p>'
    buttons: list[tuple[str, str, bool]] = []
    if view.all_out:
        buttons.append(("opt_in_all", _t("opt_in_all", lang), False))
        buttons.append(("opt_in", _t("opt_in", lang, channel=channel), True))
    elif view.channel_out:
        buttons.append(("opt_in", _t("opt_in", lang, channel=channel), False))
        buttons.append(("opt_out_all", _t("opt_out_all", lang), True))
    else:
        buttons.append(("opt_out", _t("opt_out", lang, channel=channel), False))
        buttons.append(("opt_out_all", _t("opt_out_all", lang), True))
    forms = "".join(
        f'<form method="post" action="{escape(action_url)}">'
        f'<input type="hidden" name="action" value="{action}">'
        f'<button type="submit"{" class=secondary" if secondary else ""}>{escape(label)}</button>'
        "</form>"
        for action, label, secondary in buttons
    )
    saved = f'<p class="on">{escape(_t("saved", lang))}</p>' if view.saved else ""
    body = (
        f"<h1>{escape(title)}</h1>{saved}{state}{forms}"
        f'<p class="note">{escape(_t("note", lang))}</p>'
    )
    return _page(title, body, lang, 200)
