// Live updates over /ws/events (session cookie): presence badges, new voicemail, plan changes.
(function () {
  "use strict";
  const status = document.getElementById("live-status");
  let delay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/events`, ["pbx.v1"]);
    socket.addEventListener("open", () => { delay = 1000; status.textContent = "Live"; document.body.dataset.live = "1"; });
    socket.addEventListener("close", () => {
      status.textContent = "Reconnecting…"; document.body.dataset.live = "0";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      document.dispatchEvent(new CustomEvent("pbx:" + event.type, { detail: event.data }));
    });
  }
  document.addEventListener("pbx:device.presence", (event) => {
    const row = document.querySelector(`[data-device-id="${event.detail.device_id}"] [data-presence]`);
    if (!row) return;
    row.textContent = event.detail.online ? "Online" : "Offline";
    row.className = "badge " + (event.detail.online ? "online" : "offline");
  });
  document.addEventListener("pbx:call.ringing", (event) => {
    const who = event.detail.caller_name || event.detail.caller || "unknown caller";
    status.textContent = `Incoming call from ${who}`;
  });
  document.addEventListener("pbx:call.answered", () => { status.textContent = "Live"; });
  document.addEventListener("pbx:call.missed", () => { status.textContent = "Missed call"; });
  connect();
})();
