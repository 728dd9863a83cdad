// Schedules page: create one (POST /api/v1/schedules) and delete one.
(function () {
  "use strict";
  document.getElementById("schedule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const days = [...document.querySelectorAll('input[name="day"]:checked')].map((box) => box.value);
    const holidays = document.getElementById("schedule-holidays").value.split(/\s+/).filter(Boolean);
    const body = {
      name: document.getElementById("schedule-name").value.trim(),
      weekly: days.length ? [{ days, start: document.getElementById("schedule-start").value, end: document.getElementById("schedule-end").value }] : [],
      exceptions: holidays.map((date) => ({ date, windows: [] })),
    };
    const result = await window.pbxApi("POST", "/api/v1/schedules", body);
    const status = document.getElementById("schedule-status");
    if (result.ok) { location.reload(); return; }
    const fields = (result.data && result.data.fields) || {};
    status.textContent = Object.entries(fields).map(([path, problems]) => `${path}: ${problems.map((p) => p.detail).join(" ")}`).join("; ") || (result.data && result.data.detail) || "Not created.";
  });
  document.querySelectorAll("[data-schedule-id] [data-delete]").forEach((button) => {
    button.addEventListener("click", async () => {
      const row = button.closest("[data-schedule-id]");
      if (!confirm("Delete this schedule?")) return;
      const result = await window.pbxApi("DELETE", `/api/v1/schedules/${row.dataset.scheduleId}`);
      if (result.ok) row.remove(); else alert((result.data && result.data.detail) || "Not deleted.");
    });
  });
})();
