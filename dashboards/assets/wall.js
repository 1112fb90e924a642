/* Wall display helpers, run in the browser (no server round trip). */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.iocWall = {
  /* Offline badge: the wall's data has not changed for three refresh intervals. Measured
     with the browser's own clock only, so a wall PC with a wrong clock is not "offline". */
  watchdog: function (_n, served) {
    var state = window.iocWallWatchdog || (window.iocWallWatchdog = {
      served: null, changedAt: Date.now(),
    });
    if (served !== state.served) {
      state.served = served;
      state.changedAt = Date.now();
    }
    var root = document.getElementById("wall-root");
    var refresh = root ? parseInt(root.getAttribute("data-refresh-ms") || "2000", 10) : 2000;
    var offline = Date.now() - state.changedAt > 3 * refresh + 2000;
    if (root) {
      root.classList.toggle("wall-offline", offline);
    }
    return offline ? "stale-badge wall-conn" : "stale-badge wall-conn hidden";
  },
};
