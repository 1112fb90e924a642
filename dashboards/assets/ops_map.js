/* The live map's size on screen, for the server to fit the province into it (the ops page
   and the wall). Plotly's own `fitbounds` ignores maps that have choropleth traces. Sent
   once, then only when it changes (a resized window, a wall screen of another size). */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.iocMap = {
  size: function (_n, current, graphId) {
    var el = document.getElementById(graphId);
    var size = {w: el ? el.clientWidth : 0, h: el ? el.clientHeight : 0,
                width: window.innerWidth};
    if (!size.w || !size.h) {
      return window.dash_clientside.no_update;
    }
    if (current && current.w === size.w && current.h === size.h &&
        current.width === size.width) {
      return window.dash_clientside.no_update;
    }
    return size;
  },
};

/* What the map shows now ({w, s, e, n, zoom}, from MapLibre itself), for the server to send
   the devices in view or clusters of them (large fleets). Sent when it changes: after a pan
   or zoom (relayoutData) and, checked on the size tick, after the server moved the map. */
window.dash_clientside.iocMap.view = function (_relayout, _n, current, graphId) {
  var gd = document.querySelector('#' + graphId + ' .js-plotly-plot');
  var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  var map = sub && sub.map;
  if (!map || !map.getBounds) {
    return window.dash_clientside.no_update;
  }
  var b = map.getBounds();
  var r = function (x) { return Math.round(x * 1e5) / 1e5; };
  var view = {w: r(b.getWest()), s: r(b.getSouth()), e: r(b.getEast()), n: r(b.getNorth()),
              zoom: Math.round(map.getZoom() * 100) / 100};
  if (current && current.w === view.w && current.s === view.s && current.e === view.e &&
      current.n === view.n && current.zoom === view.zoom) {
    return window.dash_clientside.no_update;
  }
  return view;
};

/* Server-sent events: the server says "something new" (a counter) the moment it arrives, and
   the page asks for its update at once instead of waiting for its next poll.

   One question at a time, and the next one only when the graph has DRAWN the previous answer:
   the answer's state comes back at once, but Plotly draws each new figure in turn (dcc.Graph
   queues them), and drawing a 5,000-point map takes longer than answering. Asking on the
   state alone piled up answers waiting to be drawn, several seconds of them on a busy stream
   (measured: p95 7 s with push against 2 s with the poll). Now: the answer carries the
   counter back in the map's state (`push`) and says whether it changed the figure (`drawn`);
   `pushDone` then waits for the graph's `plotly_react`/`plotly_afterplot` before the next
   question. What arrives meanwhile is asked for together. A watchdog frees the page if an
   answer or a draw never comes. One stream per page, closed when the page is left; a
   refused or closed stream brings the 500 ms poll back. */
var PUSH_WATCHDOG_MS = 3000;
var POLL_MS = 500;

function iocGraphDiv() {
  return document.querySelector('#ops-map .js-plotly-plot');
}

/* Counts the graph's draws (one listener per graph div), so an answer drawn before its state
   reached `pushDone` is not waited for again. */
function iocWatchDraws(gd) {
  if (!gd || !gd.on || gd.__iocDrawWatch) {
    return;
  }
  gd.__iocDrawWatch = true;
  gd.__iocDraws = 0;
  var drawn = function () {
    gd.__iocDraws += 1;
    var push = window.__iocPush;
    if (push && push.waitingDraw) {
      push.waitingDraw = false;
      push.drawnAt = Date.now();
      push.free();
    }
  };
  gd.on('plotly_react', drawn);
  gd.on('plotly_afterplot', drawn);
}

window.dash_clientside.iocMap.push = function (url) {
  if (!url || typeof EventSource === 'undefined') {
    return 'off';
  }
  var old = window.__iocPush;
  if (old && old.url === url && old.source.readyState !== 2) {
    return 'on';
  }
  if (old) {
    old.source.close();
  }
  var source = new EventSource(url);
  var push = {url: url, source: source, busy: false, since: 0, pending: false, seq: 0,
              received: 0, asked: 0, drawnAt: 0};
  push.ask = function () {
    var gd = iocGraphDiv();
    iocWatchDraws(gd);
    push.drawsAtAsk = gd && gd.__iocDraws !== undefined ? gd.__iocDraws : -1;
    push.waitingDraw = false;
    push.busy = true;
    push.pending = false;
    push.since = Date.now();
    push.seq += 1;
    push.asked += 1;
    window.dash_clientside.set_props('ops-push', {data: push.seq});
  };
  push.free = function () {
    push.busy = false;
    if (push.pending) {
      push.ask();
    }
  };
  window.__iocPush = push;
  source.onmessage = function () {
    if (!document.getElementById('ops-map')) {  // the map page was left
      source.close();
      return;
    }
    push.received += 1;
    if (push.busy && Date.now() - push.since < PUSH_WATCHDOG_MS) {
      push.pending = true;
    } else {
      push.ask();
    }
  };
  source.onerror = function () {
    // EventSource reconnects by itself after a network error; a refused stream (503: too
    // many streams) or a lost session closes it for good: poll again as fast as without push.
    if (source.readyState === 2 && document.getElementById('ops-live')) {
      window.dash_clientside.set_props('ops-live', {interval: POLL_MS});
    }
  };
  return 'on';
};

window.dash_clientside.iocMap.pushDone = function (state) {
  var push = window.__iocPush;
  if (!push || !state || state.push !== push.seq || !push.busy) {
    return window.dash_clientside.no_update;
  }
  var gd = iocGraphDiv();
  if (!state.drawn || !gd || gd.__iocDraws === undefined || push.drawsAtAsk < 0 ||
      gd.__iocDraws > push.drawsAtAsk) {
    push.free();  // nothing to draw, nothing to watch, or already drawn
    return window.dash_clientside.no_update;
  }
  // the figure changed and is not drawn yet: free the page on its draw, or on the watchdog
  var seq = push.seq;
  push.waitingDraw = true;
  setTimeout(function () {
    if (push.seq === seq && push.busy && push.waitingDraw) {
      push.waitingDraw = false;
      push.free();
    }
  }, PUSH_WATCHDOG_MS);
  return window.dash_clientside.no_update;
};
