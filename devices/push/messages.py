"""What a push tells the app. Pure: the senders turn it into FCM data or an APNs payload."""

import uuid
from dataclasses import dataclass

from devices.domain.push import PushKind

_NAMESPACE = uuid.UUID("5b8f4a0e-7d5c-4f3a-9d2e-3c1b0a9f8e7d")


@dataclass(frozen=True)
class PushMessage:
    kind: PushKind
    call_id: str
    caller_name: str = ""
    caller_number: str = ""
    reason: str = ""  # cancel only: answered_elsewhere, caller_hung_up, not_answered

    def data(self) -> dict[str, str]:
        """Flat string fields (FCM data messages carry only strings)."""
        fields = {
            "type": "incoming_call" if self.kind is PushKind.WAKE else "call_cancelled",
            "call_id": self.call_id,
        }
        if self.kind is PushKind.WAKE:
            fields["caller_name"] = self.caller_name
            fields["caller_number"] = self.caller_number
        else:
            fields["reason"] = self.reason
        return fields

    def identity(self, device_id: int) -> str:
        """The same id on every attempt (APNs `apns-id`): a retry is recognisably the same
        notification, and the app can drop a duplicate."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.kind.value}\0{device_id}\0{self.call_id}"))
