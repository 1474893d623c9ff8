"""`hotline webhooks`: subscriptions (the secret shown once, when added) and the delivery log."""

from __future__ import annotations

import argparse

from hotline import serialise
from hotline.app import App
from hotline.core import webhooks
from hotline.core.webhook_prune import Retention, prune

from .output import print_json, print_listing


def webhooks_add(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        subscription = webhooks.add_subscription(s, args.url, args.events, app.now(), args.secret)
        data = serialise.webhook_subscription(subscription, app.rules.tz)
        data["secret"] = subscription.secret
    if args.json:
        print_json(data)
        return
    print(f"webhook {data['id']}: {data['url']} ({', '.join(data['events'])})")
    if not args.secret:
        print(f"secret: {data['secret']}")
        print("shown this once: give it to the receiver, which checks Hotline-Signature with it")


def webhooks_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = [
            serialise.webhook_subscription(w, app.rules.tz) for w in webhooks.list_subscriptions(s)
        ]
    print_listing(
        found,
        args.json,
        ["id", "url", "events", "active", "created"],
        lambda w: (w["id"], w["url"], ",".join(w["events"]), w["active"], w["created_at"]),
    )


def _set_active(app: App, args: argparse.Namespace, active: bool) -> None:
    with app.require_db().session() as s:
        data = serialise.webhook_subscription(webhooks.set_active(s, args.id, active), app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"webhook {args.id}: {'enabled' if active else 'disabled'}")


def webhooks_disable(app: App, args: argparse.Namespace) -> None:
    _set_active(app, args, False)


def webhooks_enable(app: App, args: argparse.Namespace) -> None:
    _set_active(app, args, True)


def webhooks_remove(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        webhooks.remove_subscription(s, args.id)
    if args.json:
        print_json({"id": args.id, "removed": True})
    else:
        print(f"webhook {args.id}: removed")


def webhooks_deliveries(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = [
            serialise.webhook_delivery(d, app.rules.tz)
            for d in webhooks.list_deliveries(s, args.status, args.subscription, args.limit)
        ]
    print_listing(
        found,
        args.json,
        ["id", "webhook", "event", "status", "tries", "last try", "code", "error"],
        lambda d: (
            d["id"],
            d["subscription_id"],
            d["event"],
            d["status"],
            d["attempts"],
            d["last_try_at"],
            d["last_status_code"],
            d["last_error"],
        ),
    )


def webhooks_retry(app: App, args: argparse.Namespace) -> None:
    now = app.now()
    give_up_at = now + app.settings.webhooks.retry.max_age
    with app.require_db().session() as s:
        delivery = webhooks.retry_delivery(s, args.delivery_id, now, give_up_at)
        data = serialise.webhook_delivery(delivery, app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"webhook delivery {args.delivery_id}: due again now")


def webhooks_prune(app: App, args: argparse.Namespace) -> None:
    w = app.settings.webhooks
    keep = Retention.of(w.keep_days, w.keep_failed_days, args.older_than)
    pruned = prune(app.require_db(), app.now(), keep)
    if args.json:
        print_json({"deliveries": pruned.deliveries, "events": pruned.events})
    else:
        print(f"pruned {pruned.deliveries} deliveries and {pruned.events} outbox events")
