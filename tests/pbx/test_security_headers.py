"""Production settings pass `manage.py check --deploy` and send the browser security headers:
HSTS, secure cookies, nosniff, Referrer-Policy, X-Frame-Options DENY, a Content-Security-Policy
and COOP. Production settings are read once, at start, from PBX_ENVIRONMENT=production (as
deploy/production/pbx.env sets it), so those tests run Django in a process of its own."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
PORTAL_TEMPLATES = ROOT / "pbx" / "portal" / "templates"
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Outside production the softphone's engine WebSocket defaults to the local engine (the
# production test sets no PBX_SIP_WEBSOCKET_URL: nothing is added there).
CSP_LOCAL = CSP | {"connect-src": "'self' ws://127.0.0.1:5060"}


def policy(header: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources} (its order means nothing)."""
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return dict(directives)


def production(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pbx.settings",
        "PBX_ENVIRONMENT": "production",
        "PBX_SECRET_KEY": "x7-production-test-key-" + "k3y" * 12,
        "PBX_ENGINE_TOKEN": "production-test-engine-token",
        "PBX_ALLOWED_HOSTS": "pbx.example.com",
        "PBX_CSRF_TRUSTED_ORIGINS": "https://pbx.example.com",
    }
    for name in (
        "PBX_DEBUG",
        "PBX_SSL_REDIRECT",
        "PBX_HSTS_SECONDS",
        "PBX_TASKS_EAGER",
        "PBX_SIP_WEBSOCKET_URL",
    ):
        env.pop(name, None)
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_finds_nothing_under_production_settings() -> None:
    result = production("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


# Requests as nginx forwards them (X-Forwarded-Proto), and as the engine sends them (plain HTTP
# to 127.0.0.1:8000); no database is touched.
HEADERS_SCRIPT = """
import json
from django.test import Client
https = Client(HTTP_HOST="pbx.example.com", HTTP_X_FORWARDED_PROTO="https")
plain = Client(HTTP_HOST="pbx.example.com")
answers = {
    "portal": https.get("/portal/login/"),
    "api": https.get("/api/v1/me"),
    "plain_portal": plain.get("/portal/login/"),
    "plain_internal": plain.post("/internal/engine/events", "{}", content_type="application/json"),
    "plain_health": plain.get("/health/live"),
}
print(json.dumps({
    name: {
        "status": r.status_code,
        "headers": dict(r.headers),
        "cookies": {k: {"secure": v["secure"], "httponly": v["httponly"], "samesite": v["samesite"]}
                    for k, v in r.cookies.items()},
    }
    for name, r in answers.items()
}))
"""


@pytest.fixture(scope="module")
def answers() -> dict[str, dict]:
    result = production("shell", "-c", HEADERS_SCRIPT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("page", ["portal", "api"])
def test_production_responses_carry_the_security_headers(answers, page: str) -> None:
    answer = answers[page]
    headers = answer["headers"]

    assert answer["status"] == (200 if page == "portal" else 401)
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert policy(headers["Content-Security-Policy"]) == CSP


def test_production_cookies_are_secure(answers) -> None:
    csrf = answers["portal"]["cookies"]["csrftoken"]

    # The portal's JavaScript reads the CSRF token from its cookie: not HttpOnly, on purpose.
    assert csrf == {"secure": True, "httponly": "", "samesite": "Lax"}


def test_plain_http_is_redirected_except_for_the_engine_and_monitoring(answers) -> None:
    assert answers["plain_portal"]["status"] == 301
    assert answers["plain_portal"]["headers"]["Location"] == "https://pbx.example.com/portal/login/"
    assert answers["plain_internal"]["status"] == 401  # reached the guard: no engine token
    assert answers["plain_health"]["status"] == 200


@pytest.mark.django_db
def test_the_portal_and_the_api_send_the_policy_in_every_environment(member) -> None:
    client = Client()
    client.force_login(member)

    for url in ("/portal/devices/", "/portal/ring-plan/", "/api/v1/me"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert policy(response.headers["Content-Security-Policy"]) == CSP_LOCAL, url
        assert response.headers["X-Frame-Options"] == "DENY", url


def test_portal_templates_have_no_inline_script_or_style() -> None:
    """What the policy (script-src/style-src 'self') would block in a browser."""
    found = []
    for template in sorted(PORTAL_TEMPLATES.rglob("*.html")):
        text = template.read_text()
        inline_script = re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        inline_style = re.search(r"<style\b|\sstyle=|\son[a-z]+=", text)
        if inline_script or inline_style:
            found.append(template.name)

    assert found == []
