"""``/metrics`` over twisted.web: the registry's exposition text, generated in memory per scrape."""

from __future__ import annotations

from typing import Any

from prometheus_client.exposition import choose_encoder
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from hotline.metrics import Metrics


class MetricsResource(Resource):
    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._registry = metrics.registry

    def render_GET(self, request: Request) -> bytes:
        # Prometheus' text format 0.0.4, or OpenMetrics when the scraper asks for it.
        encode, content_type = choose_encoder(request.getHeader("accept") or "")
        request.setHeader(b"Content-Type", content_type.encode())
        return encode(self._registry)


class _QuietSite(Site):
    """Prometheus scrapes every few seconds: no access log line, no factory start/stop line."""

    noisy = False

    def log(self, request: Any) -> None:
        pass


def metrics_site(metrics: Metrics) -> Site:
    root = Resource()
    root.putChild(b"metrics", MetricsResource(metrics))
    return _QuietSite(root)


def listen_metrics(reactor: Any, listen: str, metrics: Metrics) -> Deferred[IListeningPort]:
    """Serve ``http://host:port/metrics``; ``listen`` is ``"host:port"`` (port 0: any free one)."""
    host, _, port = listen.rpartition(":")
    endpoint = TCP4ServerEndpoint(reactor, int(port), interface=host or "127.0.0.1")
    listening: Deferred[IListeningPort] = endpoint.listen(metrics_site(metrics))
    return listening
