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
  // "23 min", "2 h 05 min", "3 d 4 h": how long a tablet has been offline.
  span(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  },
  // HH:MM in a zone (the user's chosen one, else the tile's fleet's).
  clock(iso, zone) {
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: zone || "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
    } catch (err) {
      return new Date(iso).toISOString().slice(11, 16);
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
  setCounts(counts) {
    for (const el of document.querySelectorAll("[data-count]")) {
      if (el.dataset.count in counts) el.textContent = counts[el.dataset.count];
    }
  },
  // The live grid stays what a fresh load of its address would show: a changed tile is
  // removed, then placed where the server's order puts it if it still matches the filters.
  liveGrid(url) {
    const grid = document.getElementById("grid");
    const form = document.getElementById("grid-filters");
    const filter = { ...grid.dataset };
    const rank = (tile) => {
      if (filter.order !== "problems") return 0;
      if (tile.dataset.state === "offline") return 0;
      if (tile.classList.contains("incident-flapping")) return 1;
      return tile.dataset.state === "unknown" ? 2 : 3;
    };
    // The server's ORDER BY (byte order): rank, car (none last), tablet id.
    const car = (tile) => (tile.children[1].className === "nocar" ? "" : tile.children[1].textContent);
    const key = (tile) => [rank(tile), car(tile) ? 0 : 1, car(tile), tile.id.slice(5)];
    const before = (a, b) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
      return false;
    };
    const matches = (tile, fleetId) => {
      if (filter.fleet && filter.fleet !== fleetId) return false;
      if (filter.state && filter.state !== tile.dataset.state) return false;
      if (!filter.q) return true;
      const q = filter.q.toLowerCase();
      return tile.id.slice(5).toLowerCase().includes(q) || car(tile).toLowerCase().includes(q);
    };
    const label = (section) => {
      const n = section.querySelectorAll(".tile").length;
      section.querySelector("h2 small").textContent = n + (n === 1 ? " tablet" : " tablets");
    };
    const empty = () => {
      const note = document.getElementById("grid-empty");
      if (note) note.hidden = document.querySelector("#grid-body section.fleet") !== null;
    };
    const sectionFor = (fleetId, fleetName, zone) => {
      const body = document.getElementById("grid-body");
      const all = [...body.querySelectorAll(":scope > section.fleet")];
      const found = all.find((s) => s.dataset.fleet === fleetId);
      if (found) return found;
      const section = document.createElement("section");
      section.className = "fleet";
      section.dataset.fleet = fleetId;
      section.dataset.name = fleetName;
      section.dataset.tz = zone || "UTC";
      const h2 = document.createElement("h2");
      h2.append(fleetName + " ", document.createElement("small"));
      const tiles = document.createElement("div");
      tiles.className = "tiles";
      section.append(h2, tiles);
      const next = all.find((s) => before([fleetName, fleetId], [s.dataset.name, s.dataset.fleet]));
      body.insertBefore(section, next || document.getElementById("grid-empty"));
      return section;
    };
    const remove = (id) => {
      const old = document.getElementById("tile-" + id);
      if (!old) return;
      const section = old.closest("section.fleet");
      old.remove();
      if (section) {
        if (section.querySelector(".tile")) label(section); else section.remove();
      }
    };
    const place = (t) => {
      remove(t.id);
      const box = document.createElement("div");
      box.innerHTML = t.html;
      const tile = box.firstElementChild;
      if (!matches(tile, t.fleet_id)) return empty();
      const section = sectionFor(t.fleet_id, t.fleet_name, t.zone);
      const tiles = section.querySelector(".tiles").children;
      const mine = key(tile);
      let lo = 0, hi = tiles.length;  // the first tile that sorts after this one
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (before(mine, key(tiles[mid]))) hi = mid; else lo = mid + 1;
      }
      section.querySelector(".tiles").insertBefore(tile, tiles[lo] || null);
      fleethub.ageTile(tile, Date.now());
      label(section);
      empty();
    };
    let pending = null;  // events that arrive while a new grid is fetched, applied after it
    const apply = (fn) => (e) => (pending ? pending.push(() => fn(e)) : fn(e));
    fleethub.stream(url + (filter.fleet ? "?fleet=" + encodeURIComponent(filter.fleet) : ""), {
      tile: apply((e) => place(JSON.parse(e.data))),
      gone: apply((e) => { remove(JSON.parse(e.data).id); empty(); }),
      counts: apply((e) => fleethub.setCounts(JSON.parse(e.data))),
    });
    if (!form) return;
    // The filters apply as you type or choose (the Filter button without JavaScript).
    const query = () => {
      const data = new FormData(form);
      const params = new URLSearchParams();
      for (const name of ["fleet", "state", "q", "order"]) {
        const value = String(data.get(name) || "").trim();
        if (value && !(name === "order" && value === "problems")) params.set(name, value);
      }
      return params.toString();
    };
    let timer = null, asked = 0;
    const refresh = async () => {
      const wanted = query();
      const fleet = new URLSearchParams(wanted).get("fleet") || "";
      if (fleet !== (filter.fleet || "")) return location.assign("/?" + wanted);  // new counts
      const mine = ++asked;
      pending = pending || [];
      try {
        const response = await fetch("/grid/fragment?" + wanted, { credentials: "same-origin" });
        if (response.redirected) return location.reload();  // signed out: the login page
        if (!response.ok || mine !== asked) return;
        grid.innerHTML = await response.text();
        const params = new URLSearchParams(wanted);
        filter.state = params.get("state") || "";
        filter.q = params.get("q") || "";
        filter.order = params.get("order") || "problems";
        history.replaceState(null, "", wanted ? "/?" + wanted : "/");
        const body = document.getElementById("grid-body");
        fleethub.setCounts({ online: body.dataset.online, offline: body.dataset.offline, unknown: body.dataset.unknown });
        fleethub.ageTiles();
      } finally {
        if (mine === asked) {
          const queued = pending || [];
          pending = null;
          for (const fn of queued) fn();
        }
      }
    };
    form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(timer); refresh(); });
    form.addEventListener("change", () => { clearTimeout(timer); refresh(); });
    form.q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  },
};
// "heartbeat 3 min ago", "offline since 14:02, 23 min", and "late" when no heartbeat came
// for two intervals: one timer per page.
fleethub.ageTile = (el, now) => {
  const zone = document.body.dataset.zone || (el.closest("[data-tz]") || {}).dataset?.tz;
  const last = el.dataset.last;
  const ago = el.querySelector(".ago");
  if (ago) ago.textContent = last ? "heartbeat " + fleethub.ago(last) : "no heartbeat yet";
  const since = el.dataset.since;
  const at = el.querySelector(".at");
  if (since && at && document.body.dataset.zone) at.textContent = fleethub.clock(since, zone);
  const lasted = el.querySelector(".for");
  if (since && lasted) lasted.textContent = ", " + fleethub.span(since);
  const late = last && now - Date.parse(last) > 2000 * Number(el.dataset.interval || 60);
  el.classList.toggle("late", Boolean(late) && el.dataset.state === "online");
};
fleethub.ageTiles = () => {
  const now = Date.now();
  for (const el of document.querySelectorAll(".tile[data-last]")) fleethub.ageTile(el, now);
};
document.addEventListener("DOMContentLoaded", () => {
  fleethub.ageTiles();
  setInterval(fleethub.ageTiles, 15000);
});
window.fleethub = fleethub;
