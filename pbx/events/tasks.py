"""Publishing from places that must not wait on the channel layer (the route-decision hot
path): a worker sends the event instead."""

from typing import Any

from celery import shared_task

from pbx.events.publish import send_event_on_commit


@shared_task(name="events.publish", ignore_result=True)
def publish_event(*, user_ids: list[int], type: str, data: dict[str, Any]) -> None:  # noqa: A002
    send_event_on_commit(user_ids=user_ids, type=type, data=data)
