"""`/users/{user}/...` endpoints: whose data is addressed (`me`, or a user the caller may see)."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from pbx.api.permissions import acting_tenant, acting_user
from pbx.directory.models import User
from pbx.directory.selectors import user_list
from pbx.object_ids import UserRefConverter, parse_id

USER_PARAMETER = OpenApiParameter(
    "user",
    str,
    OpenApiParameter.PATH,
    description="A user id, or `me`.",
    pattern=f"^({UserRefConverter.regex})$",
)


def subject(request: Request, user: str) -> User:
    """`me`, or a user of the caller's tenant the caller may see; anyone else is a 404."""
    actor = acting_user(request)
    if user == "me":
        return actor
    user_id = parse_id(user)
    if user_id is None:
        raise Http404
    found = user_list(tenant=acting_tenant(request), actor=actor).filter(pk=user_id).first()
    if found is None:
        raise Http404
    return found
