"""What every app's admin pages share: pages of big tables without a full count, and change
forms whose edit is a service's conditional UPDATE."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet

from core.errors import DomainError


class EstimatedCountPaginator(Paginator):
    """Pages of a big table without COUNT(*) over all of it: unfiltered, PostgreSQL's
    estimate from pg_class is used (a million-row COUNT takes a noticeable fraction of a
    second on every page); filtered lists count exactly."""

    @property
    def count(self) -> int:
        queryset = self.object_list
        if (
            isinstance(queryset, QuerySet)
            and connection.vendor == "postgresql"
            and not queryset.query.where
        ):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > 10_000:
                return int(row[0])
        return super().count


class EditThroughServiceForm(forms.ModelForm):
    """A change form whose edit is a service's conditional UPDATE (`service_edit`).

    Whether the edit is refused (a redemption committed after the form's checks, a window
    it would break, a budget below the spend) is known only by trying it. Django's change
    view goes back to the form only for a validation error, so the edit is the form's last
    validation step: a refusal is shown on the form, and the change is neither logged nor
    called a success. The UPDATE and the admin's LogEntry share the transaction
    changeform_view opens; `saved` holds the row the service returned."""

    def service_edit(self) -> Any:
        raise NotImplementedError

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.instance._state.adding or self.errors:
            return
        try:
            self.saved = self.service_edit()
        except DomainError as exc:
            reasons = [m for field in exc.data.get("errors", {}).values() for m in field]
            self.add_error(None, f"Not saved: {' '.join(reasons) or exc.detail}")
