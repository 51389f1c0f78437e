"""Prometheus metrics (prometheus-client): requests and latency per route and binding,
recorded by the server middleware, and the system's state gauges read at scrape time.
Each System has its own registry: nothing global."""
from __future__ import annotations

from typing import Callable, Iterable, Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from werkzeug.wrappers import Request, Response

from .openapi import Operation, text
from .routing import Route

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

Gauges = Callable[[], Iterable[tuple[str, str, str, dict[str, float]]]]  # name, help, label, {value: n}


class _StateCollector:
    def __init__(self, gauges: Gauges) -> None:
        self._gauges = gauges

    def collect(self):
        for name, documentation, label, values in self._gauges():
            family = GaugeMetricFamily(name, documentation, labels=[label] if label else [])
            for key, value in values.items():
                family.add_metric([key] if label else [], value)
            yield family


class Metrics:
    def __init__(self, gauges: Optional[Gauges] = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("callsuite_http_requests", "HTTP requests answered",
                                ["route", "binding", "method", "status"], registry=self.registry)
        self.latency = Histogram("callsuite_http_request_duration_seconds", "Time to answer (first byte to last)",
                                 ["route", "binding"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._children: dict[tuple, tuple] = {}
        if gauges is not None:
            self.registry.register(_StateCollector(gauges))

    def observe(self, environ: dict, status: str, seconds: float) -> None:
        # The route's rule, not the path: label values stay few however many ids are asked for.
        route = environ.get("callsuite.route", "unmatched")
        binding = environ.get("callsuite.binding", "http")
        key = (route, binding, environ.get("REQUEST_METHOD", "-"), status)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds the key each time: once per label set
            children = self._children.setdefault(key, (self.requests.labels(*key), self.latency.labels(route, binding)))
        children[0].inc()
        children[1].observe(seconds)

    def route(self, allowed: Callable[[Optional[str]], bool]) -> Route:
        def scrape(request: Request) -> Response:
            if not allowed(request.remote_addr):
                return Response("metrics are answered only to metrics_allowed_networks\n", status=403,
                                content_type="text/plain; charset=utf-8")
            return Response(generate_latest(self.registry), content_type=CONTENT_TYPE)
        return Route("/metrics", scrape, api=(Operation(
            "Prometheus metrics (only to metrics_allowed_networks)", tag="Operations",
            responses={200: text(), 403: text()}),))
