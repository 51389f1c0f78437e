"""/openapi.json describes every mounted plain-HTTP route, as the routes declare it, and is
a valid OpenAPI 3.1 document."""
import re

import requests
from openapi_spec_validator import validate
from werkzeug.routing import Map, Rule

from services.http.openapi import operations_of
from services.http.routing import IdConverter


def _sample(path: str, params: dict) -> str:
    """A concrete URL path for an OpenAPI path, from each parameter's schema."""
    def value(match):
        schema = params.get(match.group(1), {})
        if "enum" in schema:
            return str(schema["enum"][0])
        return "7" if schema.get("type") == "integer" else "x1"
    return re.sub(r"{(\w+)}", value, path)


def test_the_document_is_valid_openapi(live):
    response = requests.get(live.url("/openapi.json"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    validate(document)  # raises on any error
    assert document["openapi"] == "3.1.0"


def test_every_mounted_route_but_soap_is_described_and_routes_back_to_itself(live):
    """Each documented path, filled in, is matched by the router to the route that declared
    it (with each of its methods): the description cannot name a URL the server does not
    answer, nor miss a route."""
    document = requests.get(live.url("/openapi.json"), timeout=10).json()
    routes = live.system.edges()
    rules = Map([Rule(r.rule, endpoint=i, methods=None if r.wsgi is not None else list(r.methods),
                      strict_slashes=False, merge_slashes=False) for i, r in enumerate(routes)],
                converters={"int": IdConverter})
    adapter = rules.bind("localhost")
    described = set()
    for index, route in enumerate(routes):
        if route.soap:
            assert not route.api, route.rule
            continue
        assert route.api, f"{route.rule} has no OpenAPI description (Route.api)"
        for path, method, _, params in operations_of(route):
            assert method in document["paths"][path], (path, method)
            matched, _ = adapter.match(_sample(path, params), method=method.upper())
            assert matched == index, f"{path} is answered by {routes[matched].rule}, not {route.rule}"
            described.add((path, method))
    served = {(path, method) for path, methods in document["paths"].items() for method in methods}
    assert served == described
    # Spot checks of what the routes contribute.
    assert {"/bluebutler/service/MP3/{reference}", "/rest/recording/GetRecordingInfo", "/cti/v1/events",
            "/sim/v1/calls/{call_id}/{action}", "/health", "/metrics", "/openapi.json",
            "/webservices/services/telephony/stoprecord/user/{user_id}/call/{call_id}",
            "/RequestCallbackService/Service.svc/rest/GetEWTByServiceID",
            "/BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin", "/cb/main/jsp/xml/xml.jsp"} <= set(document["paths"])
    info = document["paths"]["/rest/recording/GetRecordingInfo"]["get"]
    assert [p["name"] for p in info["parameters"] if p["required"]] == ["refNum"]
    assert info["security"] == [{"listener": []}]
    assert "application/xml" in document["paths"]["/cb/main/jsp/xml/xml.jsp"]["post"]["requestBody"]["content"]
