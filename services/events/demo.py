"""GET /events/demo: the seed's integration snippet as a vendor hands it to a customer
(jQuery 1.9, the jQuery SignalR client, hub NotifyMe), with a confirmation-code box and
the statuses arriving. The two scripts are not shipped with Callsuite: with
`events_scripts_dir` set to a folder where `npm install --prefix DIR jquery@1.9.1
signalr@2.4.3` ran, they are served at /events/scripts/."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

SCRIPTS = {"jquery.min.js": ("jquery", "jquery.min.js"),
           "jquery.signalR.min.js": ("signalr", "jquery.signalR.min.js")}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Callback status (Buzzeasy event notification demo)</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}li{margin:.2em 0}</style>
</head>
<body>
<h1>Your callback</h1>
<p>Confirmation code: <input id="code" size="12" maxlength="10" inputmode="numeric">
<button id="subscribecode" disabled>Follow</button></p>
<p id="state">Connecting…</p>
<ol id="statuses"></ol>
<!--Reference the jQuery library. -->
<script src="scripts/jquery.min.js"></script>
<!--Reference the SignalR library. -->
<script src="scripts/jquery.signalR.min.js"></script>
<script type="text/javascript">
jQuery.support.cors = true;
$(function () {
    // connect to the hubs (a customer's page names this server's address here)
    var connection = $.hubConnection(window.location.protocol + "//" + window.location.host);
    var notifyme = connection.createHubProxy('NotifyMe');
    notifyme.on("updateStatus", function (confcode, callstatus) {
        $('#statuses').append($('<li>').text(callstatus));
    });
    notifyme.on("closeConnection", function () {
        $('#state').text('Finished.');
        connection.stop();
    });
    connection.start().done(function () {
        $('#state').text('Connected (' + connection.transport.name + ').');
        $('#subscribecode').prop('disabled', false).click(function () {
            $('#statuses').empty();
            notifyme.invoke("Subscribe", $('#code').val()).fail(function (error) {
                $('#state').text(error.message);
            });
        });
    }).fail(function () {
        $('#state').text('Could not connect.');
    });
});
</script>
</body>
</html>
"""


def routes(settings) -> list:
    scripts_dir = Path(settings.events_scripts_dir) if settings.events_scripts_dir else None

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def script(request: web.Request) -> web.StreamResponse:
        location = SCRIPTS.get(request.match_info["name"])
        if location is None or scripts_dir is None:
            raise web.HTTPNotFound(text="set events_scripts_dir to an npm --prefix folder with jquery and signalr\n")
        path = scripts_dir.joinpath("node_modules", *location)
        if not path.is_file():
            raise web.HTTPNotFound(text=f"{path} is missing: npm install --prefix {scripts_dir} jquery@1.9.1 signalr\n")
        return web.FileResponse(path, headers={"Content-Type": "application/javascript"})

    return [web.get("/events/demo", page), web.get("/events/scripts/{name}", script)]
