// The ring plan editor: plans (stages as rows, devices dragged between them, final action),
// the default plan, and the rules that pick a plan by schedule or caller.
(function () {
  "use strict";
  let savedAt = 0;  // our own saves also announce routing.updated: only others' changes warn
  const doc = JSON.parse(document.getElementById("plan-document").textContent) || {};
  const devices = JSON.parse(document.getElementById("plan-devices").textContent);
  const byId = new Map(devices.map((d) => [String(d.id), d]));
  doc.plans = doc.plans || [];
  doc.rules = doc.rules || [];
  if (!doc.plans.length) { doc.plans.push({ name: "default", stages: [], final: { action: "voicemail" } }); doc.default_plan = "default"; }
  // Per plan, the editable part: device targets per stage; other targets are kept as they are.
  const edited = new Map();
  function stagesOf(plan) {
    if (!edited.has(plan.name)) {
      edited.set(plan.name, (plan.stages || []).map((s) => ({
        seconds: s.seconds, mode: s.mode || "add",
        devices: (s.targets || []).filter((t) => t.type === "device" && byId.has(String(t.device_id))).map((t) => String(t.device_id)),
        others: (s.targets || []).filter((t) => t.type !== "device"),
      })));
    }
    return edited.get(plan.name);
  }
  let plan = doc.plans.find((p) => p.name === doc.default_plan) || doc.plans[0];
  let schedules = [];

  const list = document.getElementById("stages");
  const unused = document.querySelector('[data-stage="none"]');
  const planSelect = document.getElementById("plan-select");
  const planDefault = document.getElementById("plan-default");
  const finalAction = document.getElementById("final-action");
  const finalDestination = document.getElementById("final-destination");

  function stageOf(id) { const i = stagesOf(plan).findIndex((s) => s.devices.includes(id)); return i < 0 ? "none" : i; }
  function move(id, target) {
    stagesOf(plan).forEach((s) => { s.devices = s.devices.filter((d) => d !== id); });
    if (target !== "none") stagesOf(plan)[Number(target)].devices.push(id);
    renderStages();
  }
  function chip(id) {
    const device = byId.get(id);
    const li = document.createElement("li");
    li.className = "chip"; li.draggable = true; li.dataset.deviceId = id;
    li.appendChild(document.createTextNode(device.label + " "));
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Stage for ${device.label}`);
    select.add(new Option("not ringing", "none"));
    stagesOf(plan).forEach((_, i) => select.add(new Option(`stage ${i + 1}`, String(i))));
    select.value = String(stageOf(id));
    select.addEventListener("change", () => move(id, select.value));
    li.appendChild(select);
    li.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", id); e.dataTransfer.effectAllowed = "move"; });
    return li;
  }
  function dropzone(ul, target) {
    ul.addEventListener("dragover", (e) => { e.preventDefault(); ul.classList.add("over"); });
    ul.addEventListener("dragleave", () => ul.classList.remove("over"));
    ul.addEventListener("drop", (e) => { e.preventDefault(); ul.classList.remove("over"); move(e.dataTransfer.getData("text/plain"), target); });
  }
  function renderStages() {
    const stages = stagesOf(plan);
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
      li.querySelector("[data-remove]").addEventListener("click", () => { stages.splice(i, 1); renderStages(); });
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
  function renderPlan() {
    planSelect.innerHTML = "";
    doc.plans.forEach((p) => planSelect.add(new Option(p.name + (p.name === doc.default_plan ? " (default)" : ""), p.name)));
    planSelect.value = plan.name;
    planDefault.checked = plan.name === doc.default_plan;
    finalAction.value = (plan.final && plan.final.action) || "voicemail";
    finalDestination.value = (plan.final && plan.final.destination) || "";
    renderStages();
    renderRules();
  }
  function keepFinal() {
    plan.final = { action: finalAction.value };
    if (finalAction.value === "forward") plan.final.destination = finalDestination.value.trim();
  }
  dropzone(unused, "none");
  document.getElementById("add-stage").addEventListener("click", () => { stagesOf(plan).push({ seconds: 15, mode: "add", devices: [], others: [] }); renderStages(); });
  planSelect.addEventListener("change", () => { keepFinal(); plan = doc.plans.find((p) => p.name === planSelect.value); renderPlan(); });
  planDefault.addEventListener("change", () => { if (planDefault.checked) doc.default_plan = plan.name; renderPlan(); });
  document.getElementById("add-plan").addEventListener("click", () => {
    const name = (prompt("Name of the new plan") || "").trim();
    if (!name || doc.plans.some((p) => p.name === name)) return;
    keepFinal();
    plan = { name, stages: [], final: { action: "voicemail" } };
    doc.plans.push(plan);
    renderPlan();
  });

  // Rules
  const rulesBody = document.querySelector("#rules tbody");
  function renderRules() {
    rulesBody.innerHTML = "";
    doc.rules.forEach((rule, i) => {
      const tr = document.createElement("tr");
      tr.dataset.rule = String(i);
      const scheduleOptions = ['<option value="">any time</option>'].concat(schedules.map((s) => `<option value="${s.id}">${escapeHtml(s.name)}</option>`)).join("");
      const planOptions = doc.plans.map((p) => `<option value="${escapeHtml(p.name)}">${escapeHtml(p.name)}</option>`).join("");
      tr.innerHTML = `<td><input aria-label="Rule name" data-field="name"></td>
        <td><select aria-label="Schedule" data-field="schedule">${scheduleOptions}</select>
            <select aria-label="When" data-field="when"><option value="open">open</option><option value="closed">closed</option></select></td>
        <td><input aria-label="Callers (comma separated, +4420* prefixes, anonymous)" data-field="callers"></td>
        <td><select aria-label="Plan" data-field="plan">${planOptions}</select></td>
        <td><input type="checkbox" aria-label="Ring even in do not disturb" data-field="dnd"></td>
        <td><button type="button" class="secondary" data-up aria-label="Move rule up">↑</button>
            <button type="button" class="danger" data-delete aria-label="Delete rule">✕</button></td>`;
      const field = (name) => tr.querySelector(`[data-field="${name}"]`);
      field("name").value = rule.name || "";
      field("schedule").value = rule.schedule_id ? String(rule.schedule_id) : "";
      field("when").value = rule.when || "open";
      field("callers").value = (rule.callers || []).join(", ");
      field("plan").value = rule.plan || doc.default_plan;
      field("dnd").checked = Boolean(rule.overrides_dnd);
      tr.addEventListener("change", () => {
        rule.name = field("name").value.trim();
        rule.plan = field("plan").value;
        const schedule = field("schedule").value;
        if (schedule) { rule.schedule_id = Number(schedule); rule.when = field("when").value; } else { delete rule.schedule_id; delete rule.when; }
        const callers = field("callers").value.split(",").map((c) => c.trim()).filter(Boolean);
        if (callers.length) rule.callers = callers; else delete rule.callers;
        if (field("dnd").checked) rule.overrides_dnd = true; else delete rule.overrides_dnd;
      });
      tr.querySelector("[data-up]").addEventListener("click", () => { if (i > 0) { doc.rules.splice(i - 1, 0, doc.rules.splice(i, 1)[0]); renderRules(); } });
      tr.querySelector("[data-delete]").addEventListener("click", () => { doc.rules.splice(i, 1); renderRules(); });
      rulesBody.appendChild(tr);
    });
  }
  document.getElementById("add-rule").addEventListener("click", () => {
    doc.rules.push({ name: `rule ${doc.rules.length + 1}`, plan: doc.default_plan });
    renderRules();
  });

  document.getElementById("save-plan").addEventListener("click", async () => {
    keepFinal();
    doc.plans.forEach((p) => {
      if (!edited.has(p.name)) return;
      p.stages = edited.get(p.name).map((s) => ({
        seconds: s.seconds, mode: s.mode,
        targets: s.devices.map((id) => ({ type: "device", device_id: Number(id) })).concat(s.others),
      }));
    });
    const status = document.getElementById("save-status");
    const errors = document.getElementById("save-errors");
    errors.innerHTML = ""; status.textContent = "Saving…";
    savedAt = Date.now();
    const result = await window.pbxApi("PUT", "/api/v1/users/me/routing/document", { document: doc });
    if (result.ok) { status.textContent = "Saved."; return; }
    status.textContent = "Not saved.";
    const fields = (result.data && result.data.fields) || {};
    Object.entries(fields).forEach(([path, problems]) => problems.forEach((p) => {
      const li = document.createElement("li"); li.textContent = `${path}: ${p.detail}`; errors.appendChild(li);
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
    const finalText = d.final.action === "voicemail" && d.final.mailbox ? `voicemail of ${d.final.mailbox}` : d.final.action;
    out.innerHTML = `<p>Plan <strong>${escapeHtml(d.plan || "")}</strong>; then <strong>${escapeHtml(finalText)}</strong> at ${d.final.at_ms / 1000} s.</p>
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
  renderPlan();
  window.pbxApi("GET", "/api/v1/schedules?limit=500").then((result) => {
    if (result.ok) { schedules = result.data.results || []; renderRules(); }
  });
})();
