// The callbacks list follows the requests' statuses: every second it fetches the list
// fragment and swaps it in when it differs, as the web agent's page does (agent.js).
// No inline script: the console's CSP allows only this file.
(function () {
  "use strict";
  var box = document.getElementById("callbacks-live");
  if (!box || !window.fetch) { return; }
  var last = null;
  function poll() {
    fetch(box.getAttribute("data-src"), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        if (html !== last) { box.innerHTML = html; }
        last = html;
        box.setAttribute("data-polled", String(Date.now()));
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  poll();
})();
