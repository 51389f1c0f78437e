"""/console/callbacks/demo: a customer's page as a company would build it from the seed
(Buzzeasy 001): a form that requests a callback over the seed's REST URL, then the seed's
jQuery SignalR snippet subscribing to the confirmation code and listing each status.

It is served by the main port, same-origin with REST (which has no CORS), while the hub
stays on the events port: the seed's snippet names the hub's base URL itself and the hub
answers CORS with credentials. jQuery and the SignalR client come from the events server
(/events/scripts/, from `events_scripts_dir`), as a vendor would host them. No sign-in:
it is the customer's page, and REST checks the company password."""
from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from services.http.routing import Route

from .edge import SECURITY_HEADERS, _refused, _templates
from .edge import page as page_doc

_HOST_NAME = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


class CallbackDemo:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [Route("/console/callbacks/demo", self.page, api=(page_doc("The customer-facing callback demo page",
                                                                          security=()),))]

    def page(self, request: Request) -> Response:
        # The hub is on this host (as the browser named it) at the events server's port.
        name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        if not _HOST_NAME.fullmatch(name):
            return _refused(400, "bad Host header")
        hub = f"{request.scheme}://{name}:{self.system.events_server.port}"
        body = _templates.get_template("callback_demo.html").render(hub=hub)
        response = Response(body, content_type="text/html; charset=utf-8")
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'self'; script-src 'self' {hub}; connect-src 'self' {hub}; "
            "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        return response

