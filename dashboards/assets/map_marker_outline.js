// Every circle marker on the plotly maps (devices, towns, selection halo) gets a thin dark
// outline: unit fills are opaque in the legend's colours, and a red station on a red unit
// must still stand out. Plotly has no marker outline for map traces, so this sets MapLibre's
// circle-stroke on plotly's own circle layers whenever they are (re)made. Paint only: the
// figure, its traces and their updates are untouched.
(function () {
  "use strict";
  var STROKE = "#0a1118";

  function outline(map) {
    var style = map.getStyle && map.getStyle();
    if (!style || !style.layers) return;
    style.layers.forEach(function (layer) {
      if (layer.type !== "circle" || layer.id.indexOf("plotly-trace-layer-") !== 0) return;
      if (map.getPaintProperty(layer.id, "circle-stroke-width") === 1.5) return;
      map.setPaintProperty(layer.id, "circle-stroke-width", 1.5);
      map.setPaintProperty(layer.id, "circle-stroke-color", STROKE);
    });
  }

  function scan() {
    var plots = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < plots.length; i++) {
      var full = plots[i]._fullLayout;
      var map = full && full.map && full.map._subplot && full.map._subplot.map;
      if (!map) continue;
      if (!map.__iocOutline) {
        map.__iocOutline = true;
        map.on("styledata", function (e) { outline(e.target); });
      }
      outline(map);
    }
  }

  setInterval(scan, 1000);
})();
