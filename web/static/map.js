// The fleet map (web/map/pages.py): Leaflet markers at the tablets' last positions, coloured
// (and shaped) by state, clustered past CLUSTER_AT, moved live by /map/stream.
"use strict";
(() => {
  const CLUSTER_AT = 300;
  const box = document.getElementById("map");
  const config = JSON.parse(box.dataset.config);
  const map = L.map(box, { worldCopyJump: true });
  if (config.tiles) {
    L.tileLayer(config.tiles, { attribution: config.attribution, maxZoom: 19 }).addTo(map);
  }
  const plain = L.layerGroup().addTo(map);
  let cluster = null;  // made once there are more than CLUSTER_AT markers
  const markers = new Map();  // tablet id -> marker
  const states = new Map();   // tablet id -> state (counted, with or without a position)

  const icon = (state) => L.divIcon({ className: "pin pin-" + state, iconSize: [16, 16] });
  const layer = () => cluster || plain;
  function popup(s) {
    const [id, state, lat, lon, fleet, car] = s;
    const el = document.createElement("div");
    const link = document.createElement("a");
    link.href = "/tablets/" + encodeURIComponent(id);
    link.textContent = id;
    const what = document.createElement("div");
    what.textContent = state + " · " + fleet + (car ? " · car " + car : "");
    el.append(link, what);
    return el;
  }
  function clusterIfMany() {
    if (cluster || markers.size <= CLUSTER_AT) return;
    cluster = L.markerClusterGroup({ chunkedLoading: true });
    const all = [...markers.values()];
    plain.clearLayers();
    cluster.addLayers(all);
    map.addLayer(cluster);
  }
  function place(s) {
    const [id, state, lat, lon] = s;
    states.set(id, state);
    let marker = markers.get(id);
    if (lat === null || lon === null) return;
    if (!marker) {
      marker = L.marker([lat, lon], { icon: icon(state), title: id, alt: id + ", " + state, keyboard: true });
      marker.bindPopup(() => popup(marker.spot));
      markers.set(id, marker);
      layer().addLayer(marker);
    } else {
      if (cluster) cluster.removeLayer(marker);
      marker.setLatLng([lat, lon]);
      marker.setIcon(icon(state));
      if (cluster) cluster.addLayer(marker);
      const el = marker.getElement();
      if (el) el.setAttribute("alt", id + ", " + state);
    }
    marker.spot = s;
  }
  function recount() {
    const counts = { online: 0, offline: 0, unknown: 0 };
    for (const st of states.values()) counts[st] = (counts[st] || 0) + 1;
    for (const el of document.querySelectorAll("[data-map-count]")) el.textContent = counts[el.dataset.mapCount] || 0;
    document.getElementById("map-placed").textContent = markers.size;
  }
  function row(s) {
    const [id, state, lat, lon, , , seen] = s;
    const tr = document.getElementById("spot-" + id);
    if (!tr) return;
    const cell = tr.querySelector("[data-field=state]");
    cell.textContent = state;
    cell.className = "state-" + state;
    tr.querySelector("[data-field=position]").textContent =
      lat === null ? "none reported" : lat.toFixed(5) + ", " + lon.toFixed(5);
    tr.querySelector("[data-field=seen]").textContent = fleethub.ago(seen);
  }

  for (const s of config.spots) place(s);
  clusterIfMany();
  recount();
  const placed = [...markers.values()].map((m) => m.getLatLng());
  if (placed.length) map.fitBounds(L.latLngBounds(placed).pad(0.2), { maxZoom: 15 });
  else map.setView([20, 0], 2);

  fleethub.stream(config.stream, {
    spots(e) {
      for (const s of JSON.parse(e.data)) { place(s); row(s); }
      clusterIfMany();
      recount();
    },
  });
  window.fleetMap = { map, markers, states };
})();
