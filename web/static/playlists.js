// The playlist editor: "Add row" copies the last item row, emptied (a typed row, not a
// library one: the picker in playlist_editor.js adds those).
"use strict";
document.getElementById("add-row").addEventListener("click", () => {
  const body = document.getElementById("item-rows");
  const row = body.lastElementChild.cloneNode(true);
  row.className = "";
  for (const input of row.querySelectorAll("input")) {
    input.value = "";
    input.readOnly = false;
  }
  for (const img of row.querySelectorAll(".media img, .media small")) img.remove();
  row.querySelector(".row-errors").textContent = "";
  row.querySelector(".n").textContent = body.children.length + 1;
  body.appendChild(row);
  document.dispatchEvent(new Event("items-changed"));
});
