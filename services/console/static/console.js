// The console's only script of its own (pages work without it; htmx adds live updates).
// Shows whether the live event stream is connected, and counts live refreshes (data-live-updates),
// which is also what the browser tests look at.
(function () {
  function state(value, text) {
    var el = document.getElementById("live-state");
    if (el) { el.dataset.live = value; el.textContent = text; }
  }
  document.addEventListener("htmx:sseOpen", function () { state("on", "live updates: on"); });
  document.addEventListener("htmx:sseError", function () { state("off", "live updates: reconnecting…"); });
  // The swimlane picture opens at its newest end (it scrolls sideways when the saga is long).
  function newestLanes() {
    document.querySelectorAll(".swimlanes-wrap").forEach(function (el) { el.scrollLeft = el.scrollWidth; });
  }
  document.addEventListener("DOMContentLoaded", newestLanes);
  document.addEventListener("htmx:afterSwap", function () {
    var main = document.getElementById("main");
    if (main) { main.dataset.liveUpdates = String(Number(main.dataset.liveUpdates || 0) + 1); }
    newestLanes();
  });
})();
