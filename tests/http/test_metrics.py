"""/metrics in Prometheus format: requests and latency per route and binding, and the
system's state, scraped over HTTP and parsed with prometheus-client's own parser."""
from datetime import datetime, timezone

import requests
import zeep
from helpers.server import start_server
from helpers.soap import ValidatingPlugin
from prometheus_client.parser import text_string_to_metric_families

ADDLINK = "/bluebutler/service/AddLink/id=<path:activity_id>"


def scrape(live) -> dict:
    r = requests.get(live.url("/metrics"), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_requests_per_route_and_binding_and_the_system_state(tmp_path):
    live = start_server(tmp_path)
    try:
        for activity in ("M-1", "M-2"):
            assert requests.get(live.url(f"/bluebutler/service/AddLink/id={activity}")).status_code == 200
        assert requests.get(live.url("/rest/recording/AddLink"), params={"id": "M-3"}).ok
        assert requests.get(live.url("/rest/recording/AddLink"), params={"id": "M-4", "callback": "cb"}).ok
        client = zeep.Client(live.url("/soap/recording?wsdl"), plugins=[ValidatingPlugin("recording.xsd")])
        client.service.AddLink(id="M-5")
        assert requests.get(live.url("/bluebutler/service/MP3/0000000000")).status_code == 401
        assert live.cti({"event": "call.started", "call_id": "metrics-1", "extension": "201",
                         "at": datetime.now(timezone.utc).isoformat()}).status_code == 201

        samples = scrape(live)
        requests_total = "callsuite_http_requests_total"
        assert samples[(requests_total, (("binding", "http"), ("method", "GET"), ("route", ADDLINK),
                                         ("status", "200")))] == 2
        assert samples[(requests_total, (("binding", "rest"), ("method", "GET"),
                                         ("route", "/rest/recording/<path:operation>"), ("status", "200")))] == 1
        assert samples[(requests_total, (("binding", "jsonp"), ("method", "GET"),
                                         ("route", "/rest/recording/<path:operation>"), ("status", "200")))] == 1
        assert samples[(requests_total, (("binding", "soap11"), ("method", "POST"), ("route", "/soap/recording"),
                                         ("status", "200")))] == 1
        assert samples[(requests_total, (("binding", "http"), ("method", "GET"),
                                         ("route", "/bluebutler/service/MP3/<reference>"), ("status", "401")))] == 1
        assert samples[("callsuite_http_request_duration_seconds_count",
                        (("binding", "http"), ("route", ADDLINK)))] == 2
        assert samples[("callsuite_calls_in_progress", ())] == 1
        assert samples[("callsuite_playback_channels_free", ())] == live.system.settings.playback_channels
    finally:
        live.stop()


def test_metrics_are_refused_outside_the_allowed_networks(tmp_path):
    live = start_server(tmp_path, metrics_allowed_networks=("10.99.0.0/16",))
    try:
        r = requests.get(live.url("/metrics"))
        assert r.status_code == 403 and "metrics_allowed_networks" in r.text
    finally:
        live.stop()
