"""REST endpoints of voicemail: `/api/v1/users/{user}/voicemail/...` (`me` or, for tenant
admins, anyone of their organisation)."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx.api.pagination import Pagination
from pbx.api.permissions import IsTenantAdmin, IsTenantUser, acting_user
from pbx.api.ranges import ranged_file_response
from pbx.api.serializers import validated_input
from pbx.api.subjects import USER_PARAMETER, subject
from pbx.api.views import audited
from pbx.errors import DomainError
from voicemail import selectors, services
from voicemail.models import Mailbox, Message
from voicemail.serializers import (
    MailboxOutput,
    MailboxUpdateInput,
    MessageOutput,
    MessageUpdateInput,
    PinInput,
    PinResetOutput,
    PinVerifyOutput,
)


class AudioParser(BaseParser):
    """A request body that is the audio file itself (`Content-Type: audio/wav`)."""

    media_type = "audio/*"

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        data = stream.read(services.GREETING_MAX_BYTES + 1) if stream is not None else b""
        return {"file": SimpleUploadedFile("upload", data, content_type=media_type)}


KIND_PARAMETER = OpenApiParameter(
    "kind", str, OpenApiParameter.PATH, enum=list(services.GREETING_KINDS)
)


def _message(request: Request, user: str, message: int) -> Message:
    """A message of the addressed person's mailbox (anyone else's is a 404)."""
    return selectors.message_get(
        mailbox=selectors.mailbox_of(subject(request, user)), message_id=message
    )


def _mailbox_json(mailbox) -> dict:  # type: ignore[no-untyped-def]
    new, old = selectors.mailbox_counts(mailbox)
    return MailboxOutput(
        {
            "extension": mailbox.extension.number,
            "new": new,
            "old": old,
            "max_message_seconds": mailbox.max_message_seconds,
            "max_messages": mailbox.max_messages,
            "email_notifications": mailbox.email_notifications,
            "has_pin": bool(mailbox.pin_hash),
            "locked_until": mailbox.locked_until,
            "greetings": {
                kind: bool(getattr(mailbox, f"greeting_{kind}")) for kind in services.GREETING_KINDS
            },
        }
    ).data


class MailboxView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER],
        responses=MailboxOutput,
        operation_id="voicemail_mailbox_retrieve",
    )
    def get(self, request: Request, user: str) -> Response:
        return Response(_mailbox_json(selectors.mailbox_of(subject(request, user))))

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=MailboxUpdateInput,
        responses=MailboxOutput,
        operation_id="voicemail_mailbox_update",
    )
    def patch(self, request: Request, user: str) -> Response:
        mailbox = selectors.mailbox_of(subject(request, user))
        data = validated_input(MailboxUpdateInput, request)
        if "email_notifications" in data:
            with audited(request, Mailbox, pk=mailbox.pk):
                mailbox.email_notifications = data["email_notifications"]
                mailbox.save(update_fields=["email_notifications"])
        return Response(_mailbox_json(mailbox))


class PinView(APIView):
    """The owner sets their PIN (the policy says why a PIN is refused)."""

    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=PinInput,
        responses={204: None},
        operation_id="voicemail_pin_set",
    )
    def put(self, request: Request, user: str) -> Response:
        person = subject(request, user)
        if person.pk != acting_user(request).pk:
            raise PermissionDenied(
                "Only the owner sets a PIN; administrators reset it.", code="owner_only"
            )
        data = validated_input(PinInput, request)
        mailbox = selectors.mailbox_of(person)
        with audited(request, Mailbox, "pin_set", pk=mailbox.pk):
            services.mailbox_pin_set(mailbox=mailbox, pin=data["pin"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PinVerifyView(APIView):
    """Apps check a PIN before opening voicemail (with lockout after repeated wrong PINs)."""

    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=PinInput,
        responses={
            200: PinVerifyOutput,
            403: OpenApiResponse(PinVerifyOutput, description="Wrong PIN (`ok` is false)."),
            429: OpenApiResponse(PinVerifyOutput, description="Locked (`locked_until`)."),
        },
        operation_id="voicemail_pin_verify",
    )
    def post(self, request: Request, user: str) -> Response:
        mailbox = selectors.mailbox_of(subject(request, user))
        data = validated_input(PinInput, request)
        outcome = services.mailbox_pin_verify(
            mailbox_id=mailbox.pk, pin=data["pin"], now=timezone.now()
        )
        body = PinVerifyOutput(
            {
                "ok": outcome.ok,
                "attempts_left": outcome.attempts_left,
                "locked_until": outcome.locked_until,
            }
        ).data
        if outcome.locked_until is not None:
            return Response(body, status=status.HTTP_429_TOO_MANY_REQUESTS)
        return Response(
            body, status=status.HTTP_200_OK if outcome.ok else status.HTTP_403_FORBIDDEN
        )


class PinResetView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=None,
        responses=PinResetOutput,
        operation_id="voicemail_pin_reset",
    )
    def post(self, request: Request, user: str) -> Response:
        mailbox = selectors.mailbox_of(subject(request, user))
        with audited(request, Mailbox, "pin_reset", pk=mailbox.pk):
            pin = services.mailbox_pin_reset(mailbox=mailbox)
        return Response(PinResetOutput({"pin": pin}).data)


class GreetingView(APIView):
    """A greeting: WAV upload (any PCM rate, mono or stereo; normalised to 8 kHz mono)."""

    permission_classes = [IsTenantUser]
    parser_classes = [AudioParser, MultiPartParser]

    @extend_schema(
        parameters=[USER_PARAMETER, KIND_PARAMETER],
        responses={(200, "audio/wav"): OpenApiTypes.BINARY},
        operation_id="voicemail_greeting_retrieve",
    )
    def get(self, request: Request, user: str, kind: str) -> HttpResponseBase:
        mailbox = selectors.mailbox_of(subject(request, user))
        field = (
            getattr(mailbox, f"greeting_{kind}", None) if kind in services.GREETING_KINDS else None
        )
        if not field:
            raise Http404("No such greeting.")
        return ranged_file_response(
            request, field, content_type="audio/wav", filename=f"{kind}.wav", download=False
        )

    @extend_schema(
        parameters=[USER_PARAMETER, KIND_PARAMETER],
        request={
            "audio/wav": OpenApiTypes.BINARY,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses=MailboxOutput,
        operation_id="voicemail_greeting_set",
    )
    def put(self, request: Request, user: str, kind: str) -> Response:
        mailbox = selectors.mailbox_of(subject(request, user))
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None:
            raise DomainError(
                "Send the audio as the request body or as `file`.", code="required", field="file"
            )
        if upload.size > services.GREETING_MAX_BYTES:
            raise DomainError("The file is larger than 5 MB.", code="too_large", field="file")
        with audited(request, Mailbox, "greeting_set", pk=mailbox.pk):
            services.greeting_set(mailbox=mailbox, kind=kind, data=upload.read())
        return Response(_mailbox_json(mailbox))

    @extend_schema(
        parameters=[USER_PARAMETER, KIND_PARAMETER],
        responses={204: None},
        operation_id="voicemail_greeting_delete",
    )
    def delete(self, request: Request, user: str, kind: str) -> Response:
        mailbox = selectors.mailbox_of(subject(request, user))
        if kind not in services.GREETING_KINDS:
            raise DomainError("Unknown greeting.", code="invalid_choice", field="kind")
        with audited(request, Mailbox, "greeting_delete", pk=mailbox.pk):
            services.greeting_delete(mailbox=mailbox, kind=kind)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListView(APIView):
    permission_classes = [IsTenantUser]
    pagination_class = Pagination  # the schema documents the page and ?limit=&offset=

    @extend_schema(
        parameters=[USER_PARAMETER, OpenApiParameter("folder", str, enum=["new", "saved"])],
        responses=MessageOutput(many=True),
        operation_id="voicemail_messages_list",
    )
    def get(self, request: Request, user: str) -> Response:
        mailbox = selectors.mailbox_of(subject(request, user))
        folder = request.query_params.get("folder")
        if folder not in (None, "new", "saved"):
            raise DomainError("folder is new or saved.", code="invalid_choice", field="folder")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.message_list(mailbox=mailbox, folder=folder), request, view=self
        )
        data = MessageOutput(page, many=True, context={"user_path": user}).data
        return paginator.get_paginated_response(data)


class MessageView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER],
        responses=MessageOutput,
        operation_id="voicemail_message_retrieve",
    )
    def get(self, request: Request, user: str, message: int) -> Response:
        found = _message(request, user, message)
        return Response(MessageOutput(found, context={"user_path": user}).data)

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=MessageUpdateInput,
        responses=MessageOutput,
        operation_id="voicemail_message_update",
    )
    def patch(self, request: Request, user: str, message: int) -> Response:
        found = _message(request, user, message)
        data = validated_input(MessageUpdateInput, request)
        updated = services.message_update(
            message=found, heard=data.get("heard"), folder=data.get("folder")
        )
        return Response(MessageOutput(updated, context={"user_path": user}).data)

    @extend_schema(
        parameters=[USER_PARAMETER], responses={204: None}, operation_id="voicemail_message_delete"
    )
    def delete(self, request: Request, user: str, message: int) -> Response:
        found = _message(request, user, message)
        services.message_delete(message=found)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageAudioView(APIView):
    """The recording (WAV, 8 kHz): range requests for seeking, `?download=1` to save it."""

    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER, OpenApiParameter("download", bool)],
        responses={
            (200, "audio/wav"): OpenApiTypes.BINARY,
            (206, "audio/wav"): OpenApiTypes.BINARY,
        },
        operation_id="voicemail_message_audio",
    )
    def get(self, request: Request, user: str, message: int) -> HttpResponseBase:
        found = _message(request, user, message)
        return ranged_file_response(
            request,
            found.audio,
            content_type="audio/wav",
            filename=f"voicemail-{found.pk}.wav",
            download=request.query_params.get("download") in ("1", "true"),
        )
