// Softphone page: the person's web softphone, JsSIP over the engine's SIP WebSocket.
// The account (SIP URI, WebSocket URL, digest HA1 + realm: never a password) comes from a POST
// with the session and the CSRF token; it lives only in this page's memory.
"use strict";
(function () {
  const root = document.getElementById("softphone");
  if (!root || !window.JsSIP) return;
  const byId = (id) => document.getElementById(id);
  const badge = byId("phone-state");
  const notice = byId("phone-alert");
  const incoming = byId("incoming");
  const inCall = byId("in-call");
  const callButton = byId("call");
  const muteButton = byId("mute");
  const remoteAudio = byId("remote-audio");
  const causes = JsSIP.C.causes;

  let ua = null;
  let account = null;
  let session = null;
  let registered = false;
  let connected = false;
  let clock = null;

  function show(state, text, tone) {
    badge.dataset.state = state;
    badge.textContent = text;
    badge.className = "badge " + tone;
    root.dataset.state = state;
  }

  // One notice at a time, by kind (microphone, socket, registration, elsewhere, missed, call).
  function say(kind, text) {
    notice.dataset.kind = kind;
    notice.textContent = text;
    notice.hidden = false;
  }

  function unsay(kind) {
    if (kind && notice.dataset.kind !== kind) return;
    notice.hidden = true;
    notice.textContent = "";
    delete notice.dataset.kind;
  }

  function partyOf(request) {
    const from = request && request.from;
    if (!from) return "an unknown caller";
    const number = from.uri && from.uri.user;
    return from.display_name ? `${from.display_name} (${number})` : number || "an unknown caller";
  }

  function microphoneRefused(error) {
    if (error && error.name === "NotFoundError") {
      say("microphone", "No microphone was found. Connect one to make or answer calls.");
    } else {
      say("microphone", "Microphone access is blocked. Allow the microphone for this site in your browser's settings to make or answer calls.");
    }
  }

  async function microphone() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      unsay("microphone");
      return stream;
    } catch (error) {
      microphoneRefused(error);
      return null;
    }
  }

  function stopClock() {
    if (clock) clearInterval(clock);
    clock = null;
    byId("call-timer").textContent = "";
    const heard = byId("call-audio");
    heard.textContent = "";
    delete heard.dataset.packetsReceived;
    delete heard.dataset.packetsSent;
  }

  // Whether audio arrives: the WebRTC statistics of the call's audio (RTP packets in and out).
  async function measureAudio(current) {
    const connection = current && current.connection;
    if (!connection) return;
    let received = 0;
    let sent = 0;
    (await connection.getStats()).forEach((report) => {
      if (report.kind !== "audio") return;
      if (report.type === "inbound-rtp") received += report.packetsReceived || 0;
      if (report.type === "outbound-rtp") sent += report.packetsSent || 0;
    });
    if (session !== current) return;
    const heard = byId("call-audio");
    heard.dataset.packetsReceived = String(received);
    heard.dataset.packetsSent = String(sent);
    heard.textContent = received > 0 ? "Audio: connected" : "Audio: waiting for sound…";
  }

  function startClock() {
    const started = Date.now();
    stopClock();
    const current = session;
    clock = setInterval(() => {
      measureAudio(current).catch(() => {});
      const seconds = Math.floor((Date.now() - started) / 1000);
      byId("call-timer").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    }, 1000);
  }

  function idle() {
    session = null;
    incoming.hidden = true;
    inCall.hidden = true;
    stopClock();
    muteButton.setAttribute("aria-pressed", "false");
    muteButton.textContent = "Mute";
    byId("dtmf-sent").textContent = "";
    remoteAudio.srcObject = null;
    callButton.disabled = !registered;
    if (registered) show("registered", "Ready", "online");
    else show(connected ? "offline" : "disconnected", "Offline", "offline");
  }

  function onCall(peer, text) {
    incoming.hidden = true;
    inCall.hidden = false;
    byId("call-peer").textContent = peer;
    byId("call-state").textContent = text;
    callButton.disabled = true;
  }

  function follow(current, peer, remote) {
    session = current;
    current.on("peerconnection", (event) => {
      event.peerconnection.addEventListener("track", (track) => { remoteAudio.srcObject = track.streams[0]; });
    });
    current.on("progress", () => { if (!remote) onCall(peer, "Ringing"); });
    current.on("accepted", () => { onCall(peer, "On a call"); show("in-call", "On a call", "online"); startClock(); });
    current.on("ended", (event) => {
      say("call", event.originator === "remote" ? `${peer} hung up.` : "Call ended.");
      idle();
    });
    current.on("failed", (event) => {
      const reason = event.message && event.message.getHeader && event.message.getHeader("Reason");
      if (remote && event.cause === causes.CANCELED && reason && /cause=200\b/.test(reason)) {
        say("elsewhere", `The call from ${peer} was answered on another of your devices.`);
      } else if (remote && event.cause === causes.CANCELED) {
        say("missed", `Missed call from ${peer}.`);
      } else if (event.cause === causes.USER_DENIED_MEDIA_ACCESS) {
        microphoneRefused({ name: "NotAllowedError" });
      } else if (!remote && event.originator === "remote") {
        const code = event.message && event.message.status_code;
        say("call", `The call to ${peer} did not go through (${code ? code + " " : ""}${event.cause}).`);
      } else if (event.originator !== "local") {
        say("call", `The call ended: ${event.cause}.`);
      }
      idle();
    });
  }

  function incomingCall(current, request) {
    if (session) {
      current.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    const peer = partyOf(request);
    unsay("elsewhere");
    unsay("missed");
    unsay("call");
    follow(current, peer, true);
    byId("incoming-caller").textContent = peer;
    incoming.hidden = false;
    show("ringing", "Ringing", "new");
  }

  async function answer() {
    const current = session;
    if (!current || !current.isInProgress()) return;
    const stream = await microphone();
    if (!stream || session !== current || !current.isInProgress()) {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      return;
    }
    current.answer({ mediaStream: stream, pcConfig: { iceServers: [] } });
    onCall(byId("incoming-caller").textContent, "Connecting");
  }

  async function dial(number) {
    if (session || !registered) return;
    const stream = await microphone();
    if (!stream) return;
    unsay("call");
    const target = `sip:${number}@${account.domain}`;
    const current = ua.call(target, { mediaStream: stream, pcConfig: { iceServers: [] } });
    follow(current, number, false);
    onCall(number, "Calling");
    show("calling", "Calling", "new");
  }

  function sendDigit(key) {
    if (!session || !session.isEstablished()) return;
    // In the media (RFC 4733) when the audio path is up, else as SIP INFO.
    const sender = session.connection && session.connection.getSenders().find((s) => s.track && s.track.kind === "audio");
    const inBand = Boolean(sender && sender.dtmf && sender.dtmf.canInsertDTMF);
    session.sendDTMF(key, { transportType: inBand ? "RFC2833" : "INFO" });
    byId("dtmf-sent").textContent += key;
  }

  function start(details) {
    account = details;
    byId("phone-identity").textContent = details.uri.replace(/^sip:/, "");
    const socket = new JsSIP.WebSocketInterface(details.websocket_url);
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: details.uri,
      authorization_user: details.authorization_user,
      ha1: details.ha1,
      realm: details.realm,
      display_name: details.display_name,
      register: true,
      session_timers: false,
      user_agent: `PBX portal softphone (JsSIP ${JsSIP.version})`,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 10,
    });
    ua.on("connecting", () => { if (!registered) show("connecting", "Connecting", "offline"); });
    ua.on("connected", () => { connected = true; unsay("socket"); });
    ua.on("disconnected", () => {
      connected = false;
      registered = false;
      callButton.disabled = true;
      if (!session) show("disconnected", "Offline", "offline");
      say("socket", "Connection to the phone system lost. Reconnecting…");
    });
    ua.on("registered", () => {
      registered = true;
      unsay("registration");
      unsay("socket");
      if (!session) idle();
    });
    ua.on("unregistered", () => { registered = false; if (!session) idle(); });
    ua.on("registrationFailed", (event) => {
      registered = false;
      callButton.disabled = true;
      if (event.cause === causes.CONNECTION_ERROR || event.cause === causes.REQUEST_TIMEOUT) {
        say("socket", "Connection to the phone system lost. Reconnecting…");
        return;
      }
      const reply = event.response ? ` (${event.response.status_code} ${event.response.reason_phrase})` : "";
      show("refused", "Not registered", "revoked");
      say("registration", `The phone system refused this softphone's registration${reply}. Reload the page; if it keeps happening, ask your administrator.`);
    });
    ua.on("newRTCSession", (event) => {
      if (event.originator === "remote") incomingCall(event.session, event.request);
    });
    ua.start();
  }

  byId("answer").addEventListener("click", answer);
  byId("decline").addEventListener("click", () => { if (session) session.terminate({ status_code: 603, reason_phrase: "Decline" }); });
  byId("hangup").addEventListener("click", () => { if (session) session.terminate(); });
  muteButton.addEventListener("click", () => {
    if (!session) return;
    const muted = session.isMuted().audio;
    if (muted) session.unmute({ audio: true }); else session.mute({ audio: true });
    muteButton.setAttribute("aria-pressed", String(!muted));
    muteButton.textContent = muted ? "Mute" : "Unmute";
  });
  root.querySelectorAll("[data-dtmf]").forEach((key) => key.addEventListener("click", () => sendDigit(key.dataset.dtmf)));
  byId("dial").addEventListener("submit", (event) => {
    event.preventDefault();
    const number = byId("dial-number").value.trim();
    if (/^[0-9*#+]{1,32}$/.test(number)) dial(number);
  });
  window.addEventListener("beforeunload", () => { if (ua) ua.stop(); });

  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "microphone" }).then((status) => {
      if (status.state === "denied") microphoneRefused({ name: "NotAllowedError" });
    }).catch(() => {});
  }

  window.pbxApi("POST", root.dataset.accountUrl).then((answer) => {
    if (!answer.ok || !answer.data || !answer.data.ha1) {
      show("refused", "Unavailable", "revoked");
      say("registration", (answer.data && answer.data.detail) || "The softphone could not be set up.");
      return;
    }
    start(answer.data);
  });
})();
