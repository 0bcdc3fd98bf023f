// The application page: its live part rendered again by the server every few seconds while the
// application is open; when what may be done changes (a task went to a person, the licence was
// approved, all completed) the page loads again unless the clerk is typing into one of its forms.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || !live.dataset.liveUrl) { return; }
  const first = document.getElementById("live-state");
  const actions = first ? first.dataset.actions : "";
  window.kaiban.refresh(live, live.dataset.liveUrl, 3000);
  document.addEventListener("kaiban:refreshed", function () {
    const now = document.getElementById("live-state");
    if (!now || now.dataset.actions === actions) { return; }
    const busy = Array.prototype.some.call(document.querySelectorAll(".actions input:not([type=hidden]), .actions textarea"),
      function (el) { return el.value && el.type !== "checkbox"; });
    if (!busy) { window.location.reload(); }
  });
})();
