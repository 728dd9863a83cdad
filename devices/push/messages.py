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
    message_id: str = ""  # voicemail only

    def data(self) -> dict[str, str]:
        """Flat string fields (FCM data messages carry only strings)."""
        kinds = {
            PushKind.WAKE: "incoming_call",
            PushKind.CANCEL: "call_cancelled",
            PushKind.VOICEMAIL: "voicemail",
        }
        fields = {"type": kinds[self.kind], "call_id": self.call_id}
        if self.kind is PushKind.VOICEMAIL:
            fields["message_id"] = self.message_id
            fields["caller_name"] = self.caller_name
            fields["caller_number"] = self.caller_number
        elif self.kind is PushKind.WAKE:
            fields["caller_name"] = self.caller_name
            fields["caller_number"] = self.caller_number
        else:
            fields["reason"] = self.reason
        return fields

    @property
    def is_call(self) -> bool:
        """Call pushes wake the app through VoIP channels; others are ordinary alerts."""
        return self.kind in (PushKind.WAKE, PushKind.CANCEL)

    def identity(self, device_id: int) -> str:
        """The same id on every attempt (APNs `apns-id`): a retry is recognisably the same
        notification, and the app can drop a duplicate."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.kind.value}\0{device_id}\0{self.call_id}"))
