// Keeps a page's figures current without a reload: every few seconds it asks for the
// page's live part with the ETag of what it shows; the server answers 304 (a few index
// reads) unless something changed. Nothing is asked while the tab is hidden.
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region) { return; }
  var every = Math.max(1, Number(document.body.dataset.refresh || 10)) * 1000;
  var etag = region.dataset.etag || "";
  function tick() {
    if (document.hidden) { return; }
    var url = new URL(window.location.href);
    url.searchParams.set("part", "live");
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(url, { headers: headers, credentials: "same-origin" }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return; }
      if (response.status !== 200) { return; }
      etag = response.headers.get("ETag") || "";
      return response.text().then(function (html) {
        region.innerHTML = html;
        region.dataset.etag = etag;
        region.dataset.refreshed = String(Date.now());
      });
    }).catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(tick, every);
})();
