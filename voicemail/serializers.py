from rest_framework import serializers

from pbx.api.serializers import StrictSerializer
from voicemail.models import Message


class MailboxOutput(serializers.Serializer):  # type: ignore[type-arg]
    extension = serializers.CharField()
    new = serializers.IntegerField(help_text="Unheard messages in New.")
    old = serializers.IntegerField()
    max_message_seconds = serializers.IntegerField()
    max_messages = serializers.IntegerField()
    email_notifications = serializers.BooleanField()
    has_pin = serializers.BooleanField()
    locked_until = serializers.DateTimeField(allow_null=True)
    greetings = serializers.DictField(child=serializers.BooleanField())


class MailboxUpdateInput(StrictSerializer):
    email_notifications = serializers.BooleanField(required=False)


class PinInput(StrictSerializer):
    pin = serializers.CharField(max_length=32, trim_whitespace=False)


class PinResetOutput(serializers.Serializer):  # type: ignore[type-arg]
    pin = serializers.CharField(help_text="Shown once: tell the person, who should change it.")


class PinVerifyOutput(serializers.Serializer):  # type: ignore[type-arg]
    ok = serializers.BooleanField()
    attempts_left = serializers.IntegerField()
    locked_until = serializers.DateTimeField(allow_null=True)


class MessageOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    heard = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = (
            "id",
            "caller",
            "caller_name",
            "duration_ms",
            "folder",
            "heard",
            "heard_at",
            "transcript",
            "created_at",
            "audio_url",
        )

    def get_heard(self, message: Message) -> bool:
        return message.heard_at is not None

    def get_audio_url(self, message: Message) -> str:
        user = self.context["user_path"]
        return f"/api/v1/users/{user}/voicemail/messages/{message.pk}/audio"


class MessageUpdateInput(StrictSerializer):
    heard = serializers.BooleanField(required=False)
    folder = serializers.ChoiceField(choices=Message.Folder.choices, required=False)
