"""Request and response payloads of the WeCom server APIs Siyu calls (protocol.md §3).

Field names are WeCom's JSON names. Unknown fields are ignored because WeCom adds fields
without notice; fields WeCom may omit have defaults. Times are unix seconds as WeCom sends
them. Request models are dumped with `exclude_none=True`, so unset options stay unsent.
"""
