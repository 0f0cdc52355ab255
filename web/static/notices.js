// Admins' live notices of leads nobody answered (web/leads/notices.py): a count on the menu's
// "Leads" and a notice with a one-click re-offer. One stream per browser: the tab holding the
// Web Lock listens and shares what it hears with the other tabs (BroadcastChannel).
"use strict";
(() => {
  const NAME = "fleethub-lead-notices";
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(NAME) : null;
  let last = null;

  function badge(count) {
    const link = document.querySelector("header.top nav a[href^=\"/leads\"]");
    if (!link) return;
    let el = link.querySelector(".badge");
    if (!count) { if (el) el.remove(); link.href = "/leads"; return; }
    if (!el) { el = document.createElement("span"); el.className = "badge"; link.append(" ", el); }
    el.textContent = count + " unanswered";
    link.href = "/leads?status=unassigned";
  }

  function notice(lead) {
    const box = document.getElementById("toasts");
    if (!box || document.getElementById("notice-" + lead.lead_id)) return;
    const el = document.createElement("div");
    el.className = "toast lead-notice";
    el.id = "notice-" + lead.lead_id;
    el.setAttribute("role", "status");
    const text = document.createElement("p");
    text.textContent = "Nobody answered the lead of " + lead.name + " (" + lead.campaign + ").";
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/leads/" + encodeURIComponent(lead.lead_id) + "/reoffer";
    const here = location.pathname + location.search;
    for (const [name, value] of [
      ["csrf_token", document.querySelector("meta[name=csrf-token]").content],
      ["back", here.startsWith("/leads") ? here : ""],
    ]) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value;
      form.append(input);
    }
    const again = document.createElement("button");
    again.type = "submit"; again.textContent = "Re-offer to all agents";
    const open = document.createElement("a");
    open.href = "/leads/" + encodeURIComponent(lead.lead_id); open.textContent = "Open";
    const dismiss = document.createElement("button");
    dismiss.type = "button"; dismiss.className = "secondary"; dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", () => el.remove());
    form.append(again, " ", open, " ", dismiss);
    el.append(text, form);
    box.append(el);
  }

  function show(data) {
    document.documentElement.dataset.leadNotices = "live";  // heard from the stream
    last = { count: data.count, lead: null };
    badge(data.count);
    if (data.lead) notice(data.lead);
  }

  function listen() {
    const source = new EventSource("/notices/leads");
    source.addEventListener("count", (e) => {
      const data = JSON.parse(e.data);
      show(data);
      if (channel) channel.postMessage(data);
    });
    source.addEventListener("resync", () => { source.close(); setTimeout(listen, 1000); });
  }

  if (channel && navigator.locks) {
    channel.onmessage = (e) => {
      if (e.data === "hello") { if (last) channel.postMessage(last); } else show(e.data);
    };
    // Held until this tab closes; the next tab waiting for it then listens.
    navigator.locks.request(NAME, () => new Promise(() => listen()));
    channel.postMessage("hello");
  } else {
    listen();
  }
})();
