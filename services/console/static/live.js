// A console page that follows what changes elsewhere (the web agent's session as the agent
// API changes it, the callbacks' statuses): every second it fetches the fragment named by
// the page's [data-live-src] element and swaps it in when it differs (so a half-chosen form
// is left alone while nothing changes). No inline script: the console's CSP allows only files.
(function () {
  "use strict";
  var box = document.querySelector("[data-live-src]");
  if (!box || !window.fetch) { return; }
  var last = null;
  function poll() {
    fetch(box.getAttribute("data-live-src"), {credentials: "same-origin", cache: "no-store"})
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
