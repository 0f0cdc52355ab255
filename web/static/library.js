// The media library: drop (or choose) several files, each sent as the body of its own
// request with a progress bar (XMLHttpRequest reports upload progress; fetch does not),
// and a new file for a media item's next version. The session's CSRF token goes in the
// X-CSRF-Token header (the body is the file, not a form).
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const list = document.getElementById("uploads");

  function row(name) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = "waiting";
    item.append(label, bar, status);
    list.appendChild(item);
    return { item, bar, status };
  }

  function send(url, file, view) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) {
          view.bar.value = Math.round((event.loaded / event.total) * 100);
          view.status.textContent = view.bar.value + " %";
        }
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status === 201 || xhr.status === 200) {
          view.bar.value = 100;
          view.item.classList.add("done");
          view.status.textContent = xhr.status === 200 ? "already in the library" : "uploaded";
          resolve(body);
        } else {
          view.item.classList.add("failed");
          view.status.textContent = "refused: " + (body.detail || xhr.statusText);
          resolve(null);
        }
      };
      xhr.onerror = () => {
        view.item.classList.add("failed");
        view.status.textContent = "failed: the connection was lost";
        resolve(null);
      };
      view.status.textContent = "0 %";
      xhr.send(file);
    });
  }

  async function uploadAll(files) {
    const tags = document.getElementById("upload-tags").value;
    const campaign = document.getElementById("upload-campaign").value;
    const views = Array.from(files, (file) => [file, row(file.name)]);
    let done = 0;
    for (const [file, view] of views) {  // one at a time: the server probes each in turn
      const query = new URLSearchParams({ name: file.name, tags });
      if (campaign) query.set("campaign_id", campaign);
      if (await send("/library/upload?" + query, file, view)) done += 1;
    }
    if (done) setTimeout(() => window.location.reload(), 600);
  }

  const zone = document.getElementById("dropzone");
  if (zone) {
    const input = document.getElementById("files");
    input.addEventListener("change", () => uploadAll(input.files));
    zone.addEventListener("submit", (event) => event.preventDefault());
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      uploadAll(event.dataTransfer.files);
    });
  }

  const replace = document.getElementById("replace");
  if (replace) {
    replace.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = document.getElementById("replace-file").files[0];
      if (!file) return;
      const update = document.getElementById("replace-update");
      const query = new URLSearchParams({ update_playlists: update && update.checked ? "true" : "false" });
      const url = "/library/" + replace.dataset.mediaId + "/versions?" + query;
      const body = await send(url, file, row(file.name));
      if (body) window.location.assign("/library/" + replace.dataset.mediaId + "?done=uploaded");
    });
  }
})();
