/* Optional chime at a desk console when a NEW extreme alert arrives (the feed's "Âm báo"
   switch). Browser side only: WebAudio, no sound file, nothing from outside. The first
   list seen is remembered silently; only ids not seen before chime, once. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.iocAlerts = {
  chime: function (rows, enabled) {
    var state = window.iocAlertSound || (window.iocAlertSound = {seen: null, ctx: null});
    var on = Array.isArray(enabled) && enabled.indexOf("on") >= 0;
    if (on && !state.ctx && (window.AudioContext || window.webkitAudioContext)) {
      // created on the operator's click, which browsers require before a sound may play
      state.ctx = new (window.AudioContext || window.webkitAudioContext)();
    }
    var ids = (rows || []).filter(function (r) {
      return r.severity === "extreme" && r.status === "open";
    }).map(function (r) { return r.id; });
    if (state.seen === null) {  // the list as the page opened: nothing new yet
      state.seen = ids.slice();
      return 0;
    }
    var fresh = ids.filter(function (id) { return state.seen.indexOf(id) < 0; });
    state.seen = state.seen.concat(fresh);
    if (on && fresh.length && state.ctx) {
      var ctx = state.ctx, t = ctx.currentTime;
      [0, 0.35].forEach(function (offset) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, t + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, t + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + offset + 0.3);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t + offset);
        osc.stop(t + offset + 0.32);
      });
    }
    return fresh.length;
  },
};
