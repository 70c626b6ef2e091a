"""Request and response payloads of the WeCom server APIs Siyu calls (protocol.md §3).

Field names are WeCom's JSON names. Unknown fields are ignored because WeCom adds fields
without notice; fields WeCom may omit have defaults. Times are unix seconds as WeCom sends
them. Request models are dumped with `exclude_none=True`, so unset options stay unsent.
"""

# messaging/wecom.py and its tests import these from the package; their owner moves them to
# `schemas.messages`.
from siyu.connectors.wecom.schemas.messages import (
    AddMsgTemplateRequest,
    Attachment,
    ImagePayload,
    TextContent,
)

__all__ = ["AddMsgTemplateRequest", "Attachment", "ImagePayload", "TextContent"]
