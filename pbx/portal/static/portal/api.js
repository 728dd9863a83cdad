// Calls to the REST API with the session cookie and Django's CSRF token. X-PBX-Client names the
// portal in the audit trail (the API trusts it only next to a browser session).
window.pbxApi = async function (method, path, body, contentType) {
  const token = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const headers = { "X-CSRFToken": decodeURIComponent(token), "X-PBX-Client": "portal" };
  let payload = body;
  if (body !== undefined && !(body instanceof Blob)) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  if (contentType) headers["Content-Type"] = contentType;
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch (e) { data = null; } }
  return { ok: response.ok, status: response.status, data };
};
