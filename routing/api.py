"""REST endpoints of routing: a person's routing (document, DND, forwarding), the "why did it
ring" simulator, schedules, templates and call history. `users/me/...` is the caller's own."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx.api.pagination import Pagination
from pbx.api.permissions import IsTenantUser, acting_tenant, acting_user
from pbx.api.serializers import validated_input
from pbx.api.subjects import USER_PARAMETER, subject
from pbx.api.views import AdminWritesOnly, ResourceViewSet, audited
from pbx.directory.models import User
from pbx.object_ids import parse_id
from routing import selectors, services
from routing.call_history import CallDetailOutput, CallListQuery, CallOutput, CallSeenFromQuery
from routing.decision_json import decision_json
from routing.decisions import route_simulate
from routing.models import Call, RoutingProfile, RoutingTemplate, Schedule
from routing.profiles import effective_document
from routing.serializers import (
    DecisionOutput,
    DocumentInput,
    RoutingOutput,
    RoutingUpdateInput,
    ScheduleInput,
    ScheduleOutput,
    ScheduleUpdateInput,
    SimulateInput,
    TemplateInput,
    TemplateOutput,
    TemplateUpdateInput,
    routing_output,
)


def _render(user: User) -> Response:
    stored = RoutingProfile.objects.select_related("template").filter(user=user).first()
    document, source = effective_document(user=user, stored=stored)
    return Response(
        routing_output(user_id=user.pk, stored=stored, document=document, source=source)
    )


class UserRoutingView(APIView):
    """A person's routing: the document in effect, and DND / forwarding / call limit."""

    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER], responses=RoutingOutput, operation_id="routing_retrieve"
    )
    def get(self, request: Request, user: str) -> Response:
        return _render(subject(request, user))

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=RoutingUpdateInput,
        responses=RoutingOutput,
        operation_id="routing_update",
    )
    def patch(self, request: Request, user: str) -> Response:
        person = subject(request, user)
        data = validated_input(RoutingUpdateInput, request)
        if "template" in data and not acting_user(request).is_tenant_admin:
            raise PermissionDenied(
                "Only an administrator assigns templates.", code="admin_only_field"
            )
        with audited(request, RoutingProfile, user=person):
            if "template" in data:
                services.routing_template_assign(user=person, template=data.pop("template"))
            if data:
                services.routing_treatment_update(user=person, data=data)
        return _render(person)


class UserRoutingDocumentView(APIView):
    """PUT your own document (overrides the template); DELETE it to follow the template again."""

    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=DocumentInput,
        responses=RoutingOutput,
        operation_id="routing_document_set",
    )
    def put(self, request: Request, user: str) -> Response:
        person = subject(request, user)
        document = validated_input(DocumentInput, request)["document"]
        with audited(request, RoutingProfile, "document_set", user=person):
            services.routing_document_set(user=person, document=document)
        return _render(person)

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=None,
        responses={200: RoutingOutput},  # the routing in effect now, not a bare 204
        operation_id="routing_document_reset",
    )
    def delete(self, request: Request, user: str) -> Response:
        person = subject(request, user)
        with audited(request, RoutingProfile, "document_reset", user=person):
            services.routing_document_reset(user=person)
        return _render(person)


class UserRoutingSimulateView(APIView):
    """What would happen if this caller called at this instant: branches, final action, trace.
    Places no call."""

    permission_classes = [IsTenantUser]

    @extend_schema(
        parameters=[USER_PARAMETER],
        request=SimulateInput,
        responses=DecisionOutput,
        operation_id="routing_simulate",
    )
    def post(self, request: Request, user: str) -> Response:
        person = subject(request, user)
        data = validated_input(SimulateInput, request)
        registered = data.get("registered_device_ids")
        routed = route_simulate(
            user=person,
            caller=data["caller"],
            at=data.get("at") or timezone.now(),
            registered=frozenset(registered) if registered is not None else None,
            active_calls=data["active_calls"],
        )
        return Response(decision_json(routed, with_trace=True))


class ScheduleViewSet(ResourceViewSet):
    """Shared schedules (office hours, holidays) and personal ones."""

    model = Schedule
    selector = staticmethod(selectors.schedule_list)
    serializer_class = ScheduleOutput
    ordering_fields = ("name",)

    def _writable(self, schedule: Schedule) -> Schedule:
        actor = acting_user(self.request)
        if schedule.owner_id != actor.pk and not (
            schedule.owner_id is None and actor.is_tenant_admin
        ):
            raise PermissionDenied("Only an administrator may change shared schedules.")
        return schedule

    @extend_schema(request=ScheduleInput, responses={201: ScheduleOutput})
    def create(self, request: Request) -> Response:
        data = self.validated(ScheduleInput)
        shared = data.pop("shared")
        actor = acting_user(request)
        if shared and not actor.is_tenant_admin:
            raise PermissionDenied("Only an administrator may create shared schedules.")
        schedule = services.schedule_create(
            tenant=acting_tenant(request), owner=None if shared else actor, **data
        )
        return Response(self.output(schedule), status=status.HTTP_201_CREATED)

    @extend_schema(request=ScheduleUpdateInput, responses=ScheduleOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        schedule = self._writable(self.get_object())
        return Response(
            self.output(
                services.schedule_update(
                    schedule=schedule, data=self.validated(ScheduleUpdateInput)
                )
            )
        )

    def destroy(self, request: Request, pk: str) -> Response:
        services.schedule_delete(schedule=self._writable(self.get_object()))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoutingTemplateViewSet(ResourceViewSet):
    """Named routing patterns. Everyone reads them; tenant admins write them."""

    model = RoutingTemplate
    selector = staticmethod(selectors.template_list)
    serializer_class = TemplateOutput
    permission_classes = [IsTenantUser, AdminWritesOnly]
    ordering_fields = ("name",)

    @extend_schema(request=TemplateInput, responses={201: TemplateOutput})
    def create(self, request: Request) -> Response:
        template = services.routing_template_create(
            tenant=acting_tenant(request), **self.validated(TemplateInput)
        )
        return Response(self.output(template), status=status.HTTP_201_CREATED)

    @extend_schema(request=TemplateUpdateInput, responses=TemplateOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        template = services.routing_template_update(
            template=self.get_object(), data=self.validated(TemplateUpdateInput)
        )
        return Response(self.output(template))

    def destroy(self, request: Request, pk: str) -> Response:
        services.routing_template_delete(template=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:  # type: ignore[type-arg]
    """Parse the query string strictly: unknown parameters and bad values answer 400."""
    query = serializer_class(data=request.query_params, context={"request": request})
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


class CallViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Call history: members see calls to them, tenant admins the organisation's. Newest first."""

    permission_classes = [IsTenantUser]
    serializer_class = CallOutput
    pagination_class = Pagination
    filter_backends = ()  # filters are the strict query below, ordering is fixed

    def get_queryset(self) -> QuerySet[Call]:
        # Only the schema generator asks (the type of {id}); reads go through call_list.
        return Call.objects.none()

    @extend_schema(parameters=[CallListQuery], responses=CallOutput(many=True))
    def list(self, request: Request) -> Response:
        query = _query(CallListQuery, request)
        calls = selectors.call_list(
            tenant=acting_tenant(request),
            actor=acting_user(request),
            callee=query.get("user"),
            seen_from=query.get("device"),
            outcome=query.get("outcome"),
            since=query.get("since"),
            until=query.get("until"),
        )
        page = self.paginate_queryset(calls)
        return self.get_paginated_response(CallOutput(page, many=True).data)

    @extend_schema(parameters=[CallSeenFromQuery], responses=CallDetailOutput)
    def retrieve(self, request: Request, pk: str) -> Response:
        """One call and why it rang as it did (plan, rule, trace). Others' calls answer 404."""
        query = _query(CallSeenFromQuery, request)
        call_pk = parse_id(pk)
        if call_pk is None:
            raise Http404
        call = (
            selectors.call_list(
                tenant=acting_tenant(request),
                actor=acting_user(request),
                seen_from=query.get("device"),
            )
            .filter(pk=call_pk)
            .first()
        )
        if call is None:
            raise Http404
        return Response(CallDetailOutput(call).data)
