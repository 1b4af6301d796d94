"""Django's PostgreSQL backend, whose flush (the end of every `transactional_db` test, which
most API tests are) deletes the rows instead of truncating the tables.

TRUNCATE of the ~24 tables gives each table and index a new file and drops the old ones'
pages from shared buffers: about 0.2 s idle and over 0.5 s on a busy 2-core machine, per
test. DELETE of the few rows a test leaves takes milliseconds. The outcome is the same: every
table Django knows is empty, sequences untouched (pytest-django flushes without
RESET IDENTITY unless a test asks for `reset_sequences`, which still truncates). The
foreign keys are deferrable (Django makes them so), so the order of the deletes does not
matter within the flush's transaction.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

# What the post_migrate signal after every flush makes again: left in place, it finds them
# all there (a few SELECTs) instead of inserting ~100 rows per test; any a test removed it
# still makes again.
KEPT = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(PostgresOperations):
    def sql_flush(
        self,
        style: Any,
        tables: Any,
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            "SET CONSTRAINTS ALL DEFERRED;",
            *(f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
              for table in tables if table not in KEPT),
        ]  # fmt: skip


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
