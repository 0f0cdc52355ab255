// Zones on the map (web/zones/pages.py): the zones given in data-shapes, outlined; on a page
// with a drawing (data-draw names the GeoJSON field) each click places a corner and the field
// holds the polygon (closed: its last position repeats its first) for the server to check.
"use strict";
(() => {
  const box = document.getElementById("zone-map");
  if (!box) return;
  const tiles = JSON.parse(box.dataset.tiles);
  const shapes = JSON.parse(box.dataset.shapes || "[]");
  const map = L.map(box, { worldCopyJump: true, doubleClickZoom: false });
  if (tiles.tiles) L.tileLayer(tiles.tiles, { attribution: tiles.attribution, maxZoom: 19 }).addTo(map);
  const shown = L.geoJSON(null, { style: { color: "#1a5fb4", weight: 2, fillOpacity: 0.15 } }).addTo(map);
  for (const s of shapes) shown.addData({ type: "Feature", properties: { name: s.name }, geometry: s.geometry });
  shown.eachLayer((layer) => layer.bindTooltip(layer.feature.properties.name));
  if (shown.getLayers().length) map.fitBounds(shown.getBounds().pad(0.3));
  else map.setView([1.3, 103.85], 11);

  const field = box.dataset.draw ? document.getElementById(box.dataset.draw) : null;
  if (!field) return;
  const corners = [];
  const drawn = L.polygon([], { color: "#c0392b", weight: 2, fillOpacity: 0.2 }).addTo(map);
  const marks = L.layerGroup().addTo(map);
  const count = document.getElementById("zone-corners");
  function update() {
    drawn.setLatLngs(corners);
    marks.clearLayers();
    for (const c of corners) L.circleMarker(c, { radius: 4, color: "#c0392b" }).addTo(marks);
    count.textContent = corners.length + (corners.length === 1 ? " corner" : " corners");
    if (corners.length >= 3) {
      const ring = corners.map((c) => [+c.lng.toFixed(6), +c.lat.toFixed(6)]);
      ring.push(ring[0]);
      field.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
      document.getElementById("zone-source").value = "drawn";
    } else if (corners.length === 0) {
      field.value = "";
    }
  }
  map.on("click", (e) => { corners.push(e.latlng); update(); });
  document.getElementById("zone-undo").addEventListener("click", () => { corners.pop(); update(); });
  document.getElementById("zone-clear").addEventListener("click", () => { corners.length = 0; update(); });
  window.zoneMap = { map, corners };
})();
