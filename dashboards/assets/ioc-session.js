// When the server answers a callback with 401 (session ended or never started), go to the
// log-in page instead of leaving a page that silently stops updating.
(function () {
  if (!window.fetch || window.__iocSessionWatch) { return; }
  window.__iocSessionWatch = true;
  var original = window.fetch;
  window.fetch = function (resource, init) {
    return original.apply(this, arguments).then(function (response) {
      var url = typeof resource === "string" ? resource : (resource && resource.url) || "";
      if (response.status === 401 && url.indexOf("_dash-update-component") !== -1 &&
          window.location.pathname !== "/login") {
        var here = window.location.pathname + window.location.search;
        window.location.assign("/login?error=ended&next=" + encodeURIComponent(here));
      }
      return response;
    });
  };
})();
