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
