// The playlist editor: "Add row" copies the last item row, emptied.
"use strict";
document.getElementById("add-row").addEventListener("click", () => {
  const body = document.getElementById("item-rows");
  const row = body.lastElementChild.cloneNode(true);
  row.className = "";
  for (const input of row.querySelectorAll("input")) input.value = "";
  row.querySelector(".row-errors").textContent = "";
  row.querySelector(".n").textContent = body.children.length + 1;
  body.appendChild(row);
});
