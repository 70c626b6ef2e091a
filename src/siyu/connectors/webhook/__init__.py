"""Outgoing webhooks: signed JSON posts to a customer's URL, guarded against SSRF.

`WebhookSender` (sender.py) posts and classifies the answer as a `WebhookOutcome` (a
`SendOutcome` with the HTTP status; retryable or final, with Retry-After and `pause` when
the receiver is overloaded); `sign`/`verify_signature` (signing.py) are the HMAC scheme
receivers check; `check_url` (guard.py) refuses URLs that would reach into our own network.

Retrying is the sender's caller's work: a broadcast's send loop records each outcome on its
delivery and spaces its passes with growing, jittered backoff that honours Retry-After
(`siyu.messaging.retrying`). Every attempt carries the same `X-Siyu-Delivery`, so
receivers drop duplicates.
"""
