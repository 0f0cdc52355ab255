// fleethub panel: one EventSource per page, a few lines to apply what it sends.
"use strict";
const fleethub = {
  toast(text, kind) {
    const box = document.getElementById("toasts");
    const el = document.createElement("div");
    el.className = "toast " + (kind || "");
    el.setAttribute("role", "status");
    el.textContent = text;
    box.appendChild(el);
    setTimeout(() => el.remove(), 8000);
  },
  ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  },
  recount() {
    for (const el of document.querySelectorAll("[data-count]")) {
      el.textContent = document.querySelectorAll(".tile[data-state=" + el.dataset.count + "]").length;
    }
  },
  stream(url, handlers) {
    const live = document.getElementById("live");
    const source = new EventSource(url);
    source.addEventListener("hello", () => { if (live) { live.textContent = "● live"; live.className = "live on"; } });
    source.onerror = () => { if (live) { live.textContent = "● reconnecting"; live.className = "live"; } };
    source.addEventListener("resync", () => location.reload());
    source.addEventListener("alert", (e) => {
      const a = JSON.parse(e.data);
      const what = a.event === "opened" ? "offline alert" : "back online";
      fleethub.toast(a.tablet_id + ": " + what + " (" + a.fleet_id + ")", a.event === "opened" ? "bad" : "good");
    });
    for (const [name, fn] of Object.entries(handlers || {})) source.addEventListener(name, fn);
    return source;
  },
  liveGrid(url) {
    const grid = document.getElementById("grid");
    fleethub.stream(url, {
      tile(e) {
        const t = JSON.parse(e.data);
        const old = document.getElementById("tile-" + t.id);
        if (!old) return;  // filtered out of this page
        const box = document.createElement("div");
        box.innerHTML = t.html;
        const tile = box.firstElementChild;
        if (grid.dataset.state && grid.dataset.state !== t.state) tile.hidden = true;
        old.replaceWith(tile);
        tile.querySelector(".ago").textContent = fleethub.ago(tile.dataset.last);
        fleethub.recount();
      },
    });
  },
};
// "3 min ago", and "late" when no heartbeat came for two intervals: one timer per page.
fleethub.ageTiles = () => {
  const now = Date.now();
  for (const el of document.querySelectorAll(".tile[data-last]")) {
    const last = el.dataset.last;
    el.querySelector(".ago").textContent = fleethub.ago(last);
    const late = last && now - Date.parse(last) > 2000 * Number(el.dataset.interval || 60);
    el.classList.toggle("late", Boolean(late) && el.dataset.state === "online");
  }
};
document.addEventListener("DOMContentLoaded", () => {
  fleethub.ageTiles();
  setInterval(fleethub.ageTiles, 15000);
});
window.fleethub = fleethub;
