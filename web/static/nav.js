// fleethub, every page: the menu on small screens, the current page in the menu,
// "3 min ago" times that keep ticking (<time data-ago datetime="…">), and list tables whose
// columns sort (a click on a column's heading; again for the other way): every table of a
// page's main part with headings, but the heatmaps and tables marked data-nosort.
"use strict";
(() => {
  const value = (cell) => (cell ? (cell.dataset.sort ?? cell.textContent.trim()) : "");
  const compare = (a, b) => {
    const x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !Number.isNaN(x) && !Number.isNaN(y)) return x - y;
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  };
  const sortBy = (table, th) => {
    const column = [...th.parentElement.children].indexOf(th);
    const down = th.getAttribute("aria-sort") === "ascending";
    for (const other of th.parentElement.children) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    const bodies = table.tBodies;
    // One tbody per item (an incident and its notes), or rows of one tbody.
    const groups = bodies.length > 1 ? [...bodies] : [...(bodies[0] ? bodies[0].rows : [])];
    const first = (g) => (g.rows ? g.rows[0] : g);
    groups.sort((a, b) => {
      const order = compare(value(first(a).cells[column]), value(first(b).cells[column]));
      return down ? -order : order;
    });
    const parent = bodies.length > 1 ? table : bodies[0];
    for (const g of groups) parent.appendChild(g);
  };
  // On a phone a table's rows are stacked cards: each cell shows its column's name
  // (data-label), taken from the heading where a template did not give one.
  const label = (root) => {
    for (const table of root.querySelectorAll("main table:not(.heat)")) {
      if (!table.tHead) continue;
      const names = [...table.tHead.rows[0].cells].map((th) => th.textContent.trim());
      for (const body of table.tBodies) {
        for (const row of body.rows) {
          if (row.cells.length !== names.length) continue;  // a row spanning columns
          [...row.cells].forEach((cell, i) => {
            if (!cell.hasAttribute("data-label") && names[i]) cell.dataset.label = names[i];
          });
        }
      }
    }
  };
  const enhance = (root) => {
    label(root);
    for (const table of root.querySelectorAll("main table:not(.heat):not([data-nosort])")) {
      if (!table.tHead || table.tHead.rows[0].cells.length < 2) continue;
      for (const th of table.tHead.rows[0].cells) {
        if (th.querySelector("button") || !th.textContent.trim()) continue;
        const button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.append(...th.childNodes);
        button.title = "Sort by this column";
        button.addEventListener("click", () => sortBy(table, th));
        th.appendChild(button);
      }
    }
  };
  window.fleethubSortable = enhance;
  const ago = (iso) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  };
  const tick = () => {
    for (const el of document.querySelectorAll("time[data-ago]")) {
      el.textContent = ago(el.getAttribute("datetime"));
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("menu-toggle");
    const menu = document.getElementById("menu");
    if (toggle && menu) {
      document.documentElement.classList.add("js-menu");
      toggle.hidden = false;
      toggle.addEventListener("click", () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        menu.classList.toggle("open", open);
      });
      const here = location.pathname;
      let best = null;
      for (const a of menu.querySelectorAll("a[href]")) {
        const path = new URL(a.href).pathname;
        const hit = path === here || (path !== "/" && here.startsWith(path + "/"));
        if (hit && (!best || path.length > new URL(best.href).pathname.length)) best = a;
      }
      if (best) best.setAttribute("aria-current", "page");
    }
    enhance(document);
    tick();
    setInterval(tick, 1000);
  });
})();
