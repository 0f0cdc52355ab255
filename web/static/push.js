// fleethub emergency push: the progress section is re-rendered by the server on every change.
"use strict";
(() => {
  const box = document.getElementById("push-live");
  if (!box) return;
  fleethub.stream(box.dataset.stream, {
    progress(e) {
      const data = JSON.parse(e.data);
      box.innerHTML = data.html;
      box.dataset.status = data.status;
      if (window.fleethubSortable) window.fleethubSortable(box);
    },
  });
})();
