"""Webhook delivery in the service: the outbox's events POSTed to their subscribers with treq,
signed, retried with backoff, at least once (docs/api.md, Webhooks)."""
