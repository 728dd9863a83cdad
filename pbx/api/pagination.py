"""Limit/offset pagination: `?limit=50&offset=100`, with the total count."""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
