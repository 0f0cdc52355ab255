// fleethub agent inbox: live offers (row + toast), countdowns, and Web Push sign-up.
"use strict";
(() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  function countdowns() {
    const now = Date.now();
    for (const el of document.querySelectorAll(".countdown[data-expires]")) {
      const left = Math.round((Date.parse(el.dataset.expires) - now) / 1000);
      const row = el.closest("tr");
      if (left <= 0) {
        el.textContent = "expired";
        if (row) for (const b of row.querySelectorAll("button")) b.disabled = true;
      } else {
        el.textContent = "expires in " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      }
    }
  }

  function empties() {
    for (const [table, note] of [["offers", "no-offers"], ["held", "no-held"]]) {
      const rows = document.querySelectorAll("#" + table + " tbody tr").length;
      document.getElementById(note).hidden = rows > 0;
    }
  }

  function place(leadId, html, offered) {
    const old = document.getElementById("lead-" + leadId);
    if (old) old.remove();
    if (html) {
      const box = document.createElement("tbody");
      box.innerHTML = html;
      const row = box.firstElementChild;
      row.classList.add("fresh");
      document.querySelector((offered ? "#offers" : "#held") + " tbody").prepend(row);
    }
    empties();
    countdowns();
  }

  async function pushSetup() {
    const enable = document.getElementById("push-enable");
    const disable = document.getElementById("push-disable");
    const state = document.getElementById("push-state");
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      state.textContent = "This browser cannot show notifications.";
      return;
    }
    const reg = await navigator.serviceWorker.register("/agent-sw.js", { scope: "/agent/" });
    const show = (sub) => {
      enable.hidden = Boolean(sub);
      disable.hidden = !sub;
      state.textContent = sub ? "Notifications on for this browser." : "";
    };
    show(await reg.pushManager.getSubscription());
    const post = (url, body) => fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    });
    enable.addEventListener("click", async () => {
      try {
        const key = (await (await fetch("/agent/push/key")).json()).public_key;
        const pad = "=".repeat((4 - (key.length % 4)) % 4);
        const raw = atob((key + pad).replace(/-/g, "+").replace(/_/g, "/"));
        const sub = await reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: Uint8Array.from(raw, (c) => c.charCodeAt(0)),
        });
        const answer = await post("/agent/push/subscribe", sub.toJSON());
        if (!answer.ok) throw new Error("the panel answered " + answer.status);
        show(sub);
      } catch (err) {
        state.textContent = "Could not turn notifications on: " + err.message;
      }
    });
    disable.addEventListener("click", async () => {
      const sub = await reg.pushManager.getSubscription();
      if (sub) {
        await post("/agent/push/unsubscribe", { endpoint: sub.endpoint });
        await sub.unsubscribe();
      }
      show(null);
    });
  }

  fleethub.agentInbox = (url) => {
    fleethub.stream(url, {
      offer(e) {
        const o = JSON.parse(e.data);
        place(o.lead_id, o.html, true);
        fleethub.toast(o.toast, "good");
      },
      changed(e) {
        const c = JSON.parse(e.data);
        place(c.lead_id, c.html, c.offered);
      },
    });
    countdowns();
    setInterval(countdowns, 1000);
    pushSetup().catch((err) => {
      document.getElementById("push-state").textContent = "Notifications unavailable: " + err.message;
    });
  };
})();
