// Voicemail inbox actions through the API; a new message reloads the list.
(function () {
  "use strict";
  document.querySelectorAll("#vm-messages [data-message-id]").forEach((item) => {
    const url = `/api/v1/users/me/voicemail/messages/${item.dataset.messageId}`;
    item.querySelector('[data-action="heard"]').addEventListener("click", async () => {
      const result = await window.pbxApi("PATCH", url, { heard: true });
      if (result.ok) { item.classList.remove("unheard"); const badge = item.querySelector(".badge.new"); if (badge) badge.remove(); }
    });
    item.querySelector('[data-action="delete"]').addEventListener("click", async () => {
      if (!confirm("Delete this message?")) return;
      const result = await window.pbxApi("DELETE", url);
      if (result.ok) item.remove();
    });
  });
  const upload = document.getElementById("greeting-upload");
  if (upload) upload.addEventListener("click", async () => {
    const file = document.getElementById("greeting-file").files[0];
    const status = document.getElementById("greeting-status");
    if (!file) { status.textContent = "Choose a WAV file first."; return; }
    const result = await window.pbxApi("PUT", "/api/v1/users/me/voicemail/greetings/unavailable", file, "audio/wav");
    status.textContent = result.ok ? "Greeting saved." : (result.data && result.data.detail) || "Upload failed.";
  });
  const pinSave = document.getElementById("pin-save");
  if (pinSave) pinSave.addEventListener("click", async () => {
    const status = document.getElementById("pin-status");
    const result = await window.pbxApi("PUT", "/api/v1/users/me/voicemail/pin", { pin: document.getElementById("pin-new").value });
    status.textContent = result.ok ? "PIN changed." : (result.data && result.data.detail) || "Not changed.";
  });
  document.addEventListener("pbx:voicemail.new", () => location.reload());
})();
