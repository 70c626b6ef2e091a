"""Prometheus metrics shared by the web process and the worker."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("siyu_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "siyu_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
