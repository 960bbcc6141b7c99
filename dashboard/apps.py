from django.apps import AppConfig


class DashboardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboard"
    verbose_name = "Pipeline dashboard"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from .db import register_sqlite_functions

        # The one signal we use: it is Django's only hook to add functions to each new SQLite
        # connection (PostgreSQL has percentile_cont built in). No domain flow goes through it.
        connection_created.connect(register_sqlite_functions, dispatch_uid="dashboard_sqlite_functions")
