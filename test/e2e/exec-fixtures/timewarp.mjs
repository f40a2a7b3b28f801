// Test-only time dilation, loaded with NODE_OPTIONS=--import=<this file> into the claude-wif parent
// and (inherited through its environment) into the child. With WIF_TIMEWARP_FACTOR=k, wall-clock
// time (Date) runs k times faster from WIF_TIMEWARP_T0 on, and timers fire k times sooner, so a
// process lives through "3 lifetimes of a 60 s token" in 180/k real seconds. The sandbox (in the
// test process) gets the same clock through its `now` option. Nothing in production changes: the
// token lifetime stays at the service's 60 s floor, the SDK keeps its 30 s / 120 s thresholds and
// the rotator its schedule — they all just see time pass faster.
const factor = Number(process.env.WIF_TIMEWARP_FACTOR);
const t0 = Number(process.env.WIF_TIMEWARP_T0);
if (factor > 0 && t0 > 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  const warpNow = () => Math.floor(t0 + (realNow() - t0) * factor);
  function WarpDate(...args) {
    if (!new.target) return new RealDate(warpNow()).toString();
    return args.length === 0 ? new RealDate(warpNow()) : new RealDate(...args);
  }
  WarpDate.prototype = RealDate.prototype;
  WarpDate.now = warpNow;
  WarpDate.UTC = RealDate.UTC;
  WarpDate.parse = RealDate.parse;
  globalThis.Date = WarpDate;
  const scale = (ms) => (typeof ms === 'number' && ms > 0 ? ms / factor : ms);
  const realSetTimeout = globalThis.setTimeout;
  const realSetInterval = globalThis.setInterval;
  globalThis.setTimeout = (fn, ms, ...args) => realSetTimeout(fn, scale(ms), ...args);
  globalThis.setInterval = (fn, ms, ...args) => realSetInterval(fn, scale(ms), ...args);
}
