"""Django's admin app, on a site that asks platform staff for their second factor (its own
module: an apps module naming two default configs confuses Django's app loading)."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "pbx.accounts.admin_site.StaffAdminSite"
