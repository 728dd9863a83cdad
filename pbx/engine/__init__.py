"""The signaling engine (Kamailio): the database objects it reads, the typed client Django
uses to command it, the Celery tasks that carry those commands, and the internal endpoints
through which it reports registrations."""
