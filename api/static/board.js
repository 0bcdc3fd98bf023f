// The board: its live part (figures, open tasks, chart, escalations) rendered again every 5 seconds.
"use strict";
(function () {
  const live = document.getElementById("board-live");
  if (!live) { return; }
  window.kaiban.refresh(live, live.dataset.liveUrl, 5000);
  document.addEventListener("kaiban:refreshed", function () {
    const state = document.getElementById("board-state");
    if (state) { state.textContent = "每 5 秒自动更新 · 最近更新 " + new Date().toLocaleTimeString("zh-CN"); }
  });
  ["filter-department", "filter-window"].forEach(function (id) {
    const el = document.getElementById(id);
    if (el) { el.addEventListener("change", function () { el.form.submit(); }); }
  });
})();
