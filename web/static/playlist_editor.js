// The playlist editor's library side: pick media (thumbnails, search) into rows with their
// duration filled in, drag rows to reorder, the loop's total length, and a preview of the
// loop in the browser (library files from the panel; others from their own URL).
"use strict";
(() => {
  const body = document.getElementById("item-rows");
  if (!body) return;
  const total = document.getElementById("loop-total");

  function rows() {
    return Array.from(body.querySelectorAll("tr"));
  }
  function field(row, name) {
    return row.querySelector(`input[name="${name}"]`);
  }
  function blank(row) {
    return ["ad_id", "campaign_id", "url", "sha256", "duration_ms"].every((n) => !field(row, n).value.trim());
  }
  function span(ms) {
    const s = Math.round(ms / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  function refresh() {
    let ms = 0;
    let n = 0;
    rows().forEach((row, index) => {
      row.querySelector(".n").textContent = index + 1;
      if (blank(row)) return;
      n += 1;
      ms += parseInt(field(row, "duration_ms").value, 10) || 0;
    });
    total.textContent = n ? `Loop: ${n} item${n === 1 ? "" : "s"}, ${span(ms)}` : "";
  }

  // -- the library picker ---------------------------------------------------------------
  function addMedia(media) {
    let row = rows().find(blank);
    if (!row) {
      document.getElementById("add-row").click();
      row = body.lastElementChild;
    }
    field(row, "media_id").value = media.media_id;
    field(row, "media_version").value = media.version;
    field(row, "ad_id").value = media.media_id;
    field(row, "campaign_id").value = media.campaign_id;
    field(row, "url").value = `${window.location.origin}/media/${media.sha256}`;
    field(row, "sha256").value = media.sha256;
    field(row, "duration_ms").value = media.duration_ms;
    field(row, "url").readOnly = true;
    field(row, "sha256").readOnly = true;
    const cell = row.querySelector(".media");
    for (const old of cell.querySelectorAll("img, small")) old.remove();
    const img = document.createElement("img");
    img.src = media.thumbnail;
    img.width = 64;
    img.height = 36;
    img.alt = "";
    const label = document.createElement("small");
    label.textContent = ` ${media.name} v${media.version}`;
    cell.prepend(img, label);
    row.dataset.file = media.file;
    row.dataset.kind = media.kind;
    refresh();
  }
  for (const button of document.querySelectorAll(".pick-media")) {
    button.addEventListener("click", () => addMedia(JSON.parse(button.dataset.media)));
  }
  const search = document.getElementById("picker-search");
  if (search) {
    search.addEventListener("input", () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const item of document.querySelectorAll("#picker li")) {
        item.hidden = !words.every((w) => item.dataset.search.includes(w));
      }
    });
  }

  // -- drag to reorder ------------------------------------------------------------------
  let dragged = null;
  body.addEventListener("dragstart", (event) => {
    dragged = event.target.closest("tr");
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", "row");
  });
  body.addEventListener("dragover", (event) => {
    event.preventDefault();
    const over = event.target.closest("tr");
    if (!dragged || !over || over === dragged) return;
    const box = over.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    body.insertBefore(dragged, after ? over.nextSibling : over);
  });
  body.addEventListener("drop", (event) => event.preventDefault());
  body.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    refresh();
  });

  // -- the loop's preview ---------------------------------------------------------------
  const stage = document.getElementById("preview-stage");
  let timer = null;
  function source(row) {
    const sha = field(row, "sha256").value.trim();
    if (field(row, "media_id").value) return `/library/files/${sha}`;
    return field(row, "url").value.trim();
  }
  function show(items, index) {
    clearTimeout(timer);
    if (!items.length) return;
    const row = items[index % items.length];
    const ms = parseInt(field(row, "duration_ms").value, 10) || 1000;
    stage.textContent = "";
    const caption = document.createElement("span");
    caption.textContent = `${index % items.length + 1}/${items.length} · ${field(row, "ad_id").value}`;
    const src = source(row);
    const kind = row.dataset.kind || (/\.(mp4|webm)$/i.test(src) ? "video" : "image");
    let media = document.createElement(kind === "image" ? "img" : "video");
    if (kind === "video") {
      media.muted = true;
      media.autoplay = true;
    } else if (!row.dataset.kind) {
      media.addEventListener("error", () => {  // not an image after all: try it as a video
        const video = document.createElement("video");
        video.muted = true;
        video.autoplay = true;
        video.src = src;
        media.replaceWith(video);
        media = video;
      }, { once: true });
    }
    media.src = src;
    stage.append(media, caption);
    timer = setTimeout(() => show(items, index + 1), ms);
  }
  document.getElementById("preview-loop").addEventListener("click", () => {
    const items = rows().filter((row) => !blank(row));
    stage.hidden = false;
    show(items, 0);
  });

  body.addEventListener("input", refresh);
  document.addEventListener("items-changed", refresh);
  refresh();
})();
