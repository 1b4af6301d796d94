"""What the probes ask of the database."""

from __future__ import annotations

from django.db import connection

from core.workers import in_worker


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


adatabase_answers = in_worker(database_answers)
