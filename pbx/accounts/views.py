"""Sign-in pages, the same for the portal and the admin (a `Surface` says which templates,
where to go next, and whether only platform staff may pass). Each view parses a form and calls
pbx.accounts.sign_in; the rules live there.

Between the password and the code, the person is *not* signed in: the session only holds who
passed the password, for a few minutes. So no page and no API call (session authentication)
is ever reachable with the password alone when a second factor is needed.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import django_otp
from django.contrib import auth, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.models import Device

from pbx.accounts import second_factor, sign_in
from pbx.accounts.forms import CodeForm, PasswordForm
from pbx.audit.actors import Actor, actor_from_request
from pbx.audit.models import AuditEntry
from pbx.directory.models import User
from pbx.errors import DomainError, Unauthenticated

PENDING_KEY = "signin_pending"
PENDING_SECONDS = 10 * 60


def _no_context(request: HttpRequest) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Surface:
    name: str
    sign_in_template: str
    code_template: str
    enrol_template: str
    codes_template: str
    settings_template: str
    home: str  # URL name or path
    login_url: str
    code_url: str
    enrol_url: str
    staff_only: bool = False
    context: Callable[[HttpRequest], dict[str, Any]] = field(default=_no_context)


def _next(request: HttpRequest, surface: Surface) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return resolve_url(surface.home)


def _page(
    request: HttpRequest, surface: Surface, template: str, status: int = 200, **context: Any
) -> HttpResponse:
    return render(request, template, surface.context(request) | context, status=status)


def _pending_set(request: HttpRequest, user: User, next_url: str) -> None:
    request.session[PENDING_KEY] = {"user": user.pk, "at": time.time(), "next": next_url}


def _pending(request: HttpRequest) -> tuple[User | None, str]:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, ""
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None, ""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return user, str(pending.get("next", ""))


def _complete(request: HttpRequest, user: User, device: Device | None, next_url: str) -> None:
    request.session.pop(PENDING_KEY, None)
    if not (request.user.is_authenticated and request.user.pk == user.pk):
        auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        django_otp.login(request, device)
    sign_in.sign_in_done(request=request, user=user)


def _actor(request: HttpRequest, user: User, surface: Surface) -> Actor:
    """`user` changing their own account (signed in, or half-way through signing in) in the
    audit trail's words; the surface's name is its channel (portal, admin)."""
    seen = actor_from_request(request, channel=surface.name)
    return replace(
        seen, label=user.email, user_id=user.pk, credential=AuditEntry.Credential.SESSION
    )


def _locked(form: Any, exc: sign_in.SignInLocked) -> int:
    form.add_error(None, exc.detail)
    return 429


@sensitive_post_parameters("password")
@never_cache
def password_step(request: HttpRequest, *, surface: Surface) -> HttpResponse:
    next_url = _next(request, surface)
    user = request.user
    if isinstance(user, User) and (user.is_platform_admin or not surface.staff_only):
        # Signed in already: through, or on to the second factor this session skipped.
        enrolled = second_factor.second_factor_enrolled(user)
        if second_factor.session_verified(request) or not (
            enrolled or second_factor.second_factor_required(user)
        ):
            return redirect(next_url)
        if enrolled:
            _pending_set(request, user, next_url)
            return redirect(surface.code_url)
        # Enrolling binds an authenticator to the account: only right after the password,
        # never for a session cookie alone (one from before two-step sign-in may be stolen).
        auth.logout(request)
    form = PasswordForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            accepted = sign_in.password_check(
                request=request,
                email=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                staff_only=surface.staff_only,
            )
        except sign_in.SignInLocked as exc:
            status = _locked(form, exc)
        except Unauthenticated as exc:
            form.add_error(None, exc.detail)
        else:
            if accepted.needs_code or accepted.needs_enrolment:
                _pending_set(request, accepted.user, next_url)
                return redirect(surface.code_url if accepted.needs_code else surface.enrol_url)
            _complete(request, accepted.user, None, next_url)
            return redirect(next_url)
    return _page(
        request,
        surface,
        surface.sign_in_template,
        status,
        form=form,
        next=next_url,
        app_path=request.get_full_path(),
        title="Sign in",
    )


@sensitive_post_parameters("code")
@never_cache
def code_step(request: HttpRequest, *, surface: Surface) -> HttpResponse:
    user, next_url = _pending(request)
    if user is None:
        return redirect(surface.login_url)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = sign_in.code_check(request=request, user=user, code=form.cleaned_data["code"])
        except sign_in.SignInLocked as exc:
            status = _locked(form, exc)
        except Unauthenticated as exc:
            form.add_error("code", exc.detail)
        else:
            _complete(request, user, device, next_url)
            return redirect(next_url)
    return _page(
        request, surface, surface.code_template, status, form=form, title="Two-step sign-in"
    )


@sensitive_post_parameters("code")
@never_cache
def enrol_step(request: HttpRequest, *, surface: Surface) -> HttpResponse:
    """Someone who must use a second factor and has none sets one up before signing in."""
    user, next_url = _pending(request)
    if user is None:
        return redirect(surface.login_url)
    if second_factor.second_factor_enrolled(user):
        return redirect(surface.code_url)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = sign_in.enrolment_check(
                request=request,
                user=user,
                code=form.cleaned_data["code"],
                actor=_actor(request, user, surface),
            )
        except sign_in.SignInLocked as exc:
            status = _locked(form, exc)
        except DomainError as exc:
            form.add_error("code", exc.detail)
        else:
            _complete(request, user, device, next_url)
            return _page(
                request,
                surface,
                surface.codes_template,
                codes=codes,
                next=next_url,
                title="Recovery codes",
            )
    enrolment = second_factor.totp_enrolment_start(user=user)
    return _page(
        request,
        surface,
        surface.enrol_template,
        status,
        form=form,
        enrolment=enrolment,
        title="Set up two-step sign-in",
    )


@sensitive_post_parameters("code")
@never_cache
def second_factor_settings(request: HttpRequest, *, surface: Surface) -> HttpResponse:
    """A signed-in person's second factor: set it up, new recovery codes, or turn it off
    (only for those who may go without). Every change asks for a current code."""
    user: User = request.user  # type: ignore[assignment]  # the caller guarantees it
    enrolled = second_factor.second_factor_enrolled(user)
    required = second_factor.second_factor_required(user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    action = request.POST.get("action", "")
    status = 200
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            if action == "enrol" and not enrolled:
                device, codes = second_factor.totp_enrolment_confirm(
                    user=user, code=code, actor=_actor(request, user, surface)
                )
                django_otp.login(request, device)
                return _page(
                    request, surface, surface.codes_template, codes=codes, next=request.path
                )
            if action == "regenerate" and enrolled:
                sign_in.code_check(request=request, user=user, code=code)
                codes = second_factor.recovery_codes_issue(
                    user=user, actor=_actor(request, user, surface)
                )
                return _page(
                    request, surface, surface.codes_template, codes=codes, next=request.path
                )
            if action == "remove" and enrolled and not required:
                sign_in.code_check(request=request, user=user, code=code)
                second_factor.second_factor_remove(user=user, actor=_actor(request, user, surface))
                messages.success(request, "Two-step sign-in is off.")
                return redirect(request.path)
            form.add_error(None, "That cannot be done here.")  # no code was used up
        except sign_in.SignInLocked as exc:
            status = _locked(form, exc)
        except DomainError as exc:
            form.add_error("code", exc.detail)
    return _page(
        request,
        surface,
        surface.settings_template,
        status,
        form=form,
        enrolled=enrolled,
        required=required,
        recovery_left=second_factor.recovery_codes_left(user) if enrolled else 0,
        enrolment=None if enrolled else second_factor.totp_enrolment_start(user=user),
        title="Two-step sign-in",
        page="security",
    )
