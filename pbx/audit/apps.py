from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "pbx.audit"
    label = "audit"
    verbose_name = "Audit trail"
