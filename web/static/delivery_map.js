// Where a campaign played (web/campaigns/pages.py): one H3 cell per polygon, darker with more
// plays (out-of-target plays in grey), its targeted zones outlined; read again every 15 s so
// the map fills up as proof of play arrives.
"use strict";
(() => {
  const box = document.getElementById("delivery-map");
  const config = JSON.parse(box.dataset.config);
  const map = L.map(box, { worldCopyJump: true });
  if (config.tiles) {
    L.tileLayer(config.tiles, { attribution: config.attribution, maxZoom: 19 }).addTo(map);
  }
  const zones = L.geoJSON(null, { style: { color: "#1a5fb4", weight: 2, fill: false } }).addTo(map);
  for (const z of config.zones) zones.addData({ type: "Feature", properties: { name: z.name }, geometry: z.geometry });
  zones.eachLayer((layer) => layer.bindTooltip(layer.feature.properties.name));
  const cells = L.layerGroup().addTo(map);
  let fitted = false;

  function draw(list) {
    cells.clearLayers();
    const most = Math.max(1, ...list.map((c) => c[1]));
    for (const [boundary, plays, inTarget] of list) {
      const share = plays / most;
      const colour = inTarget > 0 ? "#c0392b" : "#6b7480";
      L.polygon(boundary, { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.15 + 0.6 * share })
        .bindTooltip(plays + " plays, " + inTarget + " in target")
        .addTo(cells);
    }
    box.dataset.cells = String(list.length);
    if (!fitted) {
      const bounds = L.latLngBounds([]);
      cells.eachLayer((l) => bounds.extend(l.getBounds()));
      if (zones.getLayers().length) bounds.extend(zones.getBounds());
      if (bounds.isValid()) { map.fitBounds(bounds.pad(0.2), { maxZoom: 15 }); fitted = true; }
      else map.setView([1.3, 103.85], 11);
    }
  }

  async function refresh() {
    const answer = await fetch(config.data, { headers: { Accept: "application/json" } });
    if (answer.ok) draw((await answer.json()).cells);
  }
  draw(config.cells);
  setInterval(refresh, 15000);
  window.deliveryMap = { map, cells, refresh };
})();
