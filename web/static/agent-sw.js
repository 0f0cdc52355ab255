// fleethub agent service worker: shows a lead offer pushed by the panel (web/agents/push_sender.py)
// and opens the inbox when the notification is clicked.
"use strict";
self.addEventListener("push", (event) => {
  let offer = {};
  try { offer = event.data ? event.data.json() : {}; } catch (err) { offer = {}; }
  const title = offer.name ? "New lead: " + offer.name : "New lead";
  event.waitUntil(self.registration.showNotification(title, {
    body: offer.campaign ? offer.campaign + ": accept it before the offer expires." : "Open your inbox.",
    tag: offer.lead_id || "fleethub-lead",
    requireInteraction: true,
    data: { url: offer.url || "/agent/leads" },
  }));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data.url, self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of open) {
      if (client.url.startsWith(self.location.origin + "/agent/leads")) {
        await client.focus();
        return client.navigate(url);
      }
    }
    return self.clients.openWindow(url);
  })());
});
