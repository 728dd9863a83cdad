from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "pbx.directory"
    label = "directory"
    verbose_name = "Directory"
