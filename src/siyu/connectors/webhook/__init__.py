"""Outgoing webhooks: signed JSON posts to a customer's URL, guarded against SSRF.

`WebhookSender` (sender.py) posts and classifies the answer as a `WebhookOutcome` (a
`SendOutcome` with `status_code` and `retry_after`); `sign`/`verify_signature`
(signing.py) are the HMAC scheme receivers check; `check_url` (guard.py) refuses URLs
that would reach into our own network.

Retrying is the durable job runner's work (`siyu.worker.runner`): a handler that raises
is run again after `backoff_delay(attempt)` (2 s doubling, at most an hour) until the
job's `max_attempts`. A delivery job therefore records `ok` outcomes, records final
ones and returns (raising would retry what cannot succeed), and raises on retryable
ones. When `retry_after` is longer than the runner's next backoff, the handler can
instead record the attempt and enqueue the delivery again with
`run_at=now + retry_after` (a dedupe key per attempt), then return. Every attempt
carries the same `X-Siyu-Delivery`, so receivers drop duplicates.
"""
