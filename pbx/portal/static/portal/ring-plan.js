// The ring plan editor: the default plan's stages as rows, devices dragged between them.
(function () {
  "use strict";
  let savedAt = 0;  // our own saves also announce routing.updated: only others' changes warn
  const documentData = JSON.parse(document.getElementById("plan-document").textContent) || {};
  const devices = JSON.parse(document.getElementById("plan-devices").textContent);
  const byId = new Map(devices.map((d) => [String(d.id), d]));
  const plans = documentData.plans || [];
  let plan = plans.find((p) => p.name === documentData.default_plan) || plans[0];
  if (!plan) { plan = { name: "default", stages: [], final: { action: "voicemail" } }; plans.push(plan); documentData.plans = plans; documentData.default_plan = "default"; }
  // Stages: the editable part (device targets); other targets are kept as they are.
  let stages = (plan.stages || []).map((s) => ({
    seconds: s.seconds, mode: s.mode || "add",
    devices: (s.targets || []).filter((t) => t.type === "device" && byId.has(String(t.device_id))).map((t) => String(t.device_id)),
    others: (s.targets || []).filter((t) => t.type !== "device"),
  }));
  const list = document.getElementById("stages");
  const unused = document.querySelector('[data-stage="none"]');

  function chip(id) {
    const device = byId.get(id);
    const li = document.createElement("li");
    li.className = "chip"; li.draggable = true; li.dataset.deviceId = id;
    li.appendChild(document.createTextNode(device.label + " "));
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Stage for ${device.label}`);
    const none = new Option("not ringing", "none"); select.add(none);
    stages.forEach((_, i) => select.add(new Option(`stage ${i + 1}`, String(i))));
    select.value = String(stageOf(id));
    select.addEventListener("change", () => move(id, select.value));
    li.appendChild(select);
    li.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", id); e.dataTransfer.effectAllowed = "move"; });
    return li;
  }
  function stageOf(id) { const i = stages.findIndex((s) => s.devices.includes(id)); return i < 0 ? "none" : i; }
  function move(id, target) {
    stages.forEach((s) => { s.devices = s.devices.filter((d) => d !== id); });
    if (target !== "none") stages[Number(target)].devices.push(id);
    render();
  }
  function dropzone(ul, target) {
    ul.addEventListener("dragover", (e) => { e.preventDefault(); ul.classList.add("over"); });
    ul.addEventListener("dragleave", () => ul.classList.remove("over"));
    ul.addEventListener("drop", (e) => { e.preventDefault(); ul.classList.remove("over"); move(e.dataTransfer.getData("text/plain"), target); });
  }
  function render() {
    list.innerHTML = "";
    stages.forEach((stage, i) => {
      const li = document.createElement("li");
      li.className = "stage"; li.dataset.stage = String(i);
      li.innerHTML = `<header><strong>Stage ${i + 1}</strong>
        <label>Seconds <input type="number" min="5" max="300" value="${stage.seconds}" data-field="seconds"></label>
        <label>Mode <select data-field="mode"><option value="add">add</option><option value="replace">replace</option></select></label>
        <button type="button" class="secondary" data-remove>Remove stage</button></header>`;
      li.querySelector('[data-field="mode"]').value = stage.mode;
      li.querySelector('[data-field="seconds"]').addEventListener("change", (e) => { stage.seconds = Number(e.target.value); });
      li.querySelector('[data-field="mode"]').addEventListener("change", (e) => { stage.mode = e.target.value; });
      li.querySelector("[data-remove]").addEventListener("click", () => { stages.splice(i, 1); render(); });
      const ul = document.createElement("ul");
      ul.className = "chips dropzone"; ul.dataset.stage = String(i);
      ul.setAttribute("aria-label", `Devices of stage ${i + 1}`);
      stage.devices.forEach((id) => ul.appendChild(chip(id)));
      stage.others.forEach((t) => { const o = document.createElement("li"); o.className = "chip"; o.textContent = t.type + " " + (t.extension || t.number || t.kind || ""); ul.appendChild(o); });
      dropzone(ul, String(i));
      li.appendChild(ul);
      list.appendChild(li);
    });
    unused.innerHTML = "";
    devices.forEach((d) => { if (stageOf(String(d.id)) === "none") unused.appendChild(chip(String(d.id))); });
  }
  dropzone(unused, "none");
  document.getElementById("add-stage").addEventListener("click", () => { stages.push({ seconds: 15, mode: "add", devices: [], others: [] }); render(); });

  const finalAction = document.getElementById("final-action");
  const finalDestination = document.getElementById("final-destination");
  finalAction.value = (plan.final && plan.final.action) || "voicemail";
  finalDestination.value = (plan.final && plan.final.destination) || "";

  document.getElementById("save-plan").addEventListener("click", async () => {
    plan.stages = stages.map((s) => ({
      seconds: s.seconds, mode: s.mode,
      targets: s.devices.map((id) => ({ type: "device", device_id: Number(id) })).concat(s.others),
    }));
    plan.final = { action: finalAction.value };
    if (finalAction.value === "forward") plan.final.destination = finalDestination.value;
    const status = document.getElementById("save-status");
    const errors = document.getElementById("save-errors");
    errors.innerHTML = ""; status.textContent = "Saving…";
    savedAt = Date.now();
    const result = await window.pbxApi("PUT", "/api/v1/users/me/routing/document", { document: documentData });
    if (result.ok) { status.textContent = "Saved."; return; }
    status.textContent = "Not saved.";
    const fields = (result.data && result.data.fields) || {};
    Object.entries(fields).forEach(([path, problems]) => problems.forEach((p) => {
      const li = document.createElement("li"); li.textContent = `${path}: ${p.detail || p.message || p}`; errors.appendChild(li);
    }));
    if (!Object.keys(fields).length && result.data) { const li = document.createElement("li"); li.textContent = result.data.detail; errors.appendChild(li); }
  });

  document.getElementById("simulate").addEventListener("click", async () => {
    const at = document.getElementById("sim-at").value;
    const body = { caller: document.getElementById("sim-caller").value };
    if (at) body.at = new Date(at).toISOString();
    const out = document.getElementById("sim-result");
    const result = await window.pbxApi("POST", "/api/v1/users/me/routing/simulate", body);
    if (!result.ok) { out.textContent = (result.data && result.data.detail) || "The test failed."; return; }
    const d = result.data;
    const rows = d.branches.map((b) => `<tr><td>${escapeHtml(b.label)}</td><td>${b.start_ms / 1000} s</td><td>${b.stop_ms / 1000} s</td><td>${b.wake ? "push first" : ""}</td></tr>`).join("");
    out.innerHTML = `<p>Plan <strong>${escapeHtml(d.plan || "")}</strong>; then <strong>${escapeHtml(d.final.action)}</strong> at ${d.final.at_ms / 1000} s.</p>
      <table class="list"><thead><tr><th>Rings</th><th>From</th><th>Until</th><th></th></tr></thead><tbody>${rows}</tbody></table>
      <ol class="trace" aria-label="Why">${(d.trace || []).map((line) => `<li>${escapeHtml(line)}</li>`).join("")}</ol>`;
  });
  document.getElementById("save-dnd").addEventListener("click", async () => {
    const until = document.getElementById("dnd-until").value;
    const body = {
      dnd: document.getElementById("dnd").checked,
      dnd_until: until ? new Date(until).toISOString() : null,
      forward_always: document.getElementById("forward-always").value.trim() || null,
    };
    savedAt = Date.now();
    const result = await window.pbxApi("PATCH", "/api/v1/users/me/routing", body);
    const status = document.getElementById("dnd-status");
    if (result.ok) { status.textContent = "Saved."; return; }
    const fields = (result.data && result.data.fields) || {};
    status.textContent = Object.values(fields).flat().map((p) => p.detail).join(" ") || (result.data && result.data.detail) || "Not saved.";
  });
  function escapeHtml(text) { const div = document.createElement("div"); div.textContent = String(text); return div.innerHTML; }
  document.addEventListener("pbx:routing.updated", () => {
    if (Date.now() - savedAt > 3000) document.getElementById("plan-changed").hidden = false;
  });
  render();
})();
