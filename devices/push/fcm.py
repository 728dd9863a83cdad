"""FCM HTTP v1 through firebase-admin: high priority, data-only, ttl 0.

The SDK's own HTTP retries are switched off: the Celery task retries, within the call's ring
time, and knows when retrying is pointless. `endpoint` replaces https://fcm.googleapis.com
(the SDK has no setting for it; tests point it at a local fake that speaks the same API)."""

import hashlib
import json
import warnings
from typing import Any

import firebase_admin
import google.auth.exceptions
import requests
from firebase_admin import credentials, exceptions, messaging

from devices.domain.push import PushFailure, PushRefused
from devices.push.messages import PushMessage


class FcmSender:
    def __init__(
        self, *, service_account: dict[str, Any], endpoint: str = "", timeout: float = 5.0
    ) -> None:
        digest = hashlib.sha256(json.dumps(service_account, sort_keys=True).encode()).hexdigest()
        name = f"pbx-{digest[:16]}-{endpoint}"
        try:
            self.app = firebase_admin.get_app(name)
        except ValueError:
            self.app = firebase_admin.initialize_app(
                credentials.Certificate(service_account),
                options={"httpTimeout": timeout},
                name=name,
            )
        service = messaging._get_messaging_service(self.app)
        if endpoint:
            project = service._project_id
            service._fcm_url = f"{endpoint.rstrip('/')}/v1/projects/{project}/messages:send"
        no_retries = requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=20)
        session = service._client.session
        for prefix in ("http://", "https://", "https://fcm.googleapis.com"):
            session.mount(prefix, no_retries)

    def send(self, *, token: str, message: PushMessage) -> str:
        with warnings.catch_warnings():
            # SDK 7.7 prefers installation ids (`fid`); apps hand us registration tokens,
            # which FCM v1 still takes as `token`.
            warnings.simplefilter("ignore", DeprecationWarning)
            push = messaging.Message(
                token=token,
                data=message.data(),
                android=messaging.AndroidConfig(
                    priority="high", ttl=0 if message.is_call else 86400
                ),
            )
        try:
            return str(messaging.send(push, app=self.app))
        except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
            failure = (
                PushFailure.UNREGISTERED
                if isinstance(exc, messaging.UnregisteredError)
                else PushFailure.BAD_TOKEN
            )
            raise PushRefused(failure, str(exc)) from exc
        except messaging.QuotaExceededError as exc:
            raise PushRefused(PushFailure.THROTTLED, str(exc), _retry_after(exc)) from exc
        except (exceptions.UnauthenticatedError, exceptions.PermissionDeniedError) as exc:
            raise PushRefused(PushFailure.AUTH, str(exc)) from exc
        except messaging.ThirdPartyAuthError as exc:
            raise PushRefused(PushFailure.AUTH, str(exc)) from exc
        except exceptions.DeadlineExceededError as exc:
            raise PushRefused(PushFailure.UNREACHABLE, str(exc)) from exc
        except (exceptions.UnavailableError, exceptions.InternalError) as exc:
            failure = (
                PushFailure.PROVIDER_ERROR
                if exc.http_response is not None
                else PushFailure.UNREACHABLE
            )
            raise PushRefused(failure, str(exc), _retry_after(exc)) from exc
        except exceptions.FirebaseError as exc:
            if exc.http_response is None:
                raise PushRefused(PushFailure.UNREACHABLE, str(exc)) from exc
            raise PushRefused(PushFailure.REJECTED, str(exc)) from exc
        except google.auth.exceptions.RefreshError as exc:  # the token endpoint refused us
            raise PushRefused(PushFailure.AUTH, str(exc)) from exc
        except (google.auth.exceptions.TransportError, requests.RequestException) as exc:
            raise PushRefused(PushFailure.UNREACHABLE, str(exc)) from exc


def _retry_after(exc: exceptions.FirebaseError) -> float | None:
    response = exc.http_response
    value = response.headers.get("Retry-After") if response is not None else None
    return float(value) if value and value.isascii() and value.isdigit() else None
