"""`GET /api/v1/audit` (the organisation's audit trail, tenant admins only) and
`GET /api/v1/audit/export.csv` (the same rows, filtered alike, as CSV)."""

import csv
import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx.api.pagination import Pagination
from pbx.api.permissions import IsTenantAdmin, acting_tenant
from pbx.audit.domain import describe_changes
from pbx.audit.models import AuditEntry
from pbx.audit.selectors import audit_entry_list
from pbx.audit.serializers import AuditEntryOutput, AuditListQuery, AuditQuery

CSV_COLUMNS = (
    "at",
    "actor_id",
    "actor",
    "channel",
    "credential",
    "api_session_id",
    "address",
    "object_type",
    "object_id",
    "object",
    "action",
    "summary",
    "changes",
)


def _entries(
    serializer_class: type[serializers.Serializer], request: Request
) -> QuerySet[AuditEntry]:  # type: ignore[type-arg]
    query = serializer_class(data=request.query_params, context={"request": request})
    query.is_valid(raise_exception=True)
    found = dict(query.validated_data)
    found.pop("limit", None)
    found.pop("offset", None)
    return audit_entry_list(
        tenant=acting_tenant(request), actor_id=found.pop("actor", None), **found
    )


class AuditEntryViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Who changed what in the organisation, and from where. Newest first; tenant admins only."""

    permission_classes = [IsTenantAdmin]
    serializer_class = AuditEntryOutput
    pagination_class = Pagination
    filter_backends = ()  # the strict query below; the order is fixed

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return AuditEntry.objects.none()  # only the schema generator asks

    @extend_schema(parameters=[AuditListQuery], responses=AuditEntryOutput(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(_entries(AuditListQuery, request))
        return self.get_paginated_response(AuditEntryOutput(page, many=True).data)


def _csv_safe(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, - or @ would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_write(entries: QuerySet[AuditEntry], out: HttpResponse) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries.iterator(chunk_size=500):
        writer.writerow(
            [
                _csv_safe(cell)
                for cell in (
                    entry.at.isoformat(),
                    entry.actor_id,
                    entry.actor_label,
                    entry.channel,
                    entry.credential,
                    entry.api_session_id,
                    entry.address,
                    entry.object_type,
                    entry.object_id,
                    entry.object_repr,
                    entry.action,
                    describe_changes(entry.changes),
                    json.dumps(entry.changes, sort_keys=True),
                )
            ]
        )


class AuditExportView(APIView):
    """The organisation's audit trail as CSV (same filters as the list, every matching row)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=[AuditQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=str, description="One header line, then one line per entry."
            )
        },
        operation_id="audit_export",
    )
    def get(self, request: Request) -> HttpResponse:
        # Built whole, not streamed: a streamed body would read the database after the view
        # returned (and, under ASGI, from another thread).
        entries = _entries(AuditQuery, request)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        _csv_write(entries, response)
        return response
