"""Messaging: broadcasts over WeCom, email, SMS and webhooks, each customer exactly once."""
