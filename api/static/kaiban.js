// kaiban pages: what every page shares. No inline scripts anywhere (the CSP forbids them).
"use strict";
window.kaiban = (function () {
  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  async function postJson(url, body) {
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrf-token": csrf() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data: data };
  }
  // a fragment of the page rendered again by the server and swapped in (escaped there, never here)
  function refresh(el, url, everyMs) {
    async function tick() {
      try {
        const r = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
        if (r.ok) {
          el.innerHTML = await r.text();
          document.dispatchEvent(new CustomEvent("kaiban:refreshed", { detail: el }));
        }
      } catch (e) { /* the next tick tries again */ }
    }
    return window.setInterval(tick, everyMs);
  }
  // live countdowns: data-remaining (working minutes when rendered), data-ticking (working time passes now)
  function countdowns() {
    const started = Date.now();
    function show() {
      document.querySelectorAll(".countdown[data-remaining]").forEach(function (el) {
        if (!el.dataset.base) { el.dataset.base = el.dataset.remaining; el.dataset.since = String(Date.now()); }
        let minutes = parseFloat(el.dataset.base);
        if (el.dataset.ticking === "true") { minutes -= (Date.now() - parseInt(el.dataset.since, 10)) / 60000; }
        const sign = minutes < 0 ? "超时 " : "剩余 ";
        const m = Math.abs(minutes);
        const h = Math.floor(m / 60), mm = Math.floor(m % 60), ss = Math.floor((m * 60) % 60);
        el.textContent = sign + (h ? h + " 小时 " : "") + mm + " 分" + (el.dataset.ticking === "true" ? " " + ss + " 秒" : "") + "（工作时间）";
      });
    }
    show();
    window.setInterval(show, 1000);
    return started;
  }
  document.addEventListener("DOMContentLoaded", countdowns);
  return { csrf: csrf, postJson: postJson, refresh: refresh };
})();
