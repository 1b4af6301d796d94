"""`POST /v1/coupons/import/`: codes a shop already has, as CSV; and the reading of such a
file, line by line by the API's own rules for a coupon's fields (CouponCreateInput), which
the import command and the admin's upload form use too."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request

from access.models import ApiKeyScope
from core.api.base import ApiView
from core.api.fields import StrictUUIDField, validated
from core.api.http import PayloadTooLarge, UnsupportedMediaType, json_response
from core.api.problems import flatten_errors
from core.api.schema import problems
from core.errors import ValidationFailed
from coupons.api.serializers import CouponCreateInput
from coupons.domain.limits import MAX_BATCH
from coupons.domain.writable import COUPON_FIELDS, Kind
from coupons.services.imports import ImportRow, aimport_coupons

MAX_IMPORT_ROWS = MAX_BATCH
CSV_MEDIA_TYPE = "text/csv"

_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")


def _integer(text: str) -> Any:
    """A whole number as a JSON integer would be; anything else as it is, for the API's
    field to refuse with its own message."""
    return int(text) if _INTEGER.fullmatch(text) else text


def _boolean(text: str) -> Any:
    return {"true": True, "false": False}.get(text, text)


# A cell's text as the JSON value the API's field reads, by the field's kind; an empty cell
# is no value at all. Discounts, metadata and the campaign have no cell (the campaign is a
# query parameter).
_CELL_OF: dict[Kind, Callable[[str], Any]] = {
    Kind.CODE: str,
    Kind.COUNT: _integer,
    Kind.LIMIT: _integer,
    Kind.FLAG: _boolean,
    Kind.MOMENT: str,
    Kind.TEXT: str,
}
# The columns a file may have: the coupon's writable fields that a cell can hold.
_CELLS = {field.name: _CELL_OF[field.kind] for field in COUPON_FIELDS if field.kind in _CELL_OF}
REQUIRED_COLUMNS = tuple(field.name for field in COUPON_FIELDS if field.required_on_create)
IMPORT_COLUMNS = tuple(_CELLS)


class ImportHeaderError(ValidationFailed):
    """The first line does not name the columns an import can take."""


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().removeprefix("\ufeff").strip() for cell in cells]
    problems: dict[str, list[str]] = {}
    for name in names:
        if name not in IMPORT_COLUMNS:
            problems[f"1.{name}"] = [f"Unknown column; use {', '.join(IMPORT_COLUMNS)}."]
        elif names.count(name) > 1:
            problems[f"1.{name}"] = ["Named twice."]
    for name in REQUIRED_COLUMNS:
        if name not in names:
            problems[f"1.{name}"] = ["Required column."]
    if problems:
        raise ImportHeaderError(problems, "The header line does not name the columns to import.")
    return names


def import_rows(lines: Iterable[str], *, max_rows: int | None = None) -> Iterator[ImportRow]:
    """The file's rows, each with its fields as the API takes them or its errors by column;
    lines are numbered as in the file (the header is line 1), blank lines skipped.
    ValidationFailed for a bad header, no rows, or more than `max_rows`."""
    reader = csv.reader(lines, strict=True)
    try:
        header = _header(next(reader))
    except StopIteration:
        header = _header([])
    except csv.Error as exc:
        raise ImportHeaderError({"1.row": [f"Not CSV: {exc}."]}) from exc
    rows, after = 0, reader.line_num
    while True:
        line = after + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield ImportRow(line, errors={"row": [f"Not CSV: {exc}."]})
            after = reader.line_num
            continue
        after = reader.line_num
        if not cells or cells == [""]:
            continue
        rows += 1
        if max_rows is not None and rows > max_rows:
            too_many = f"At most {max_rows:,} rows after the header: import the rest apart."
            raise ValidationFailed({f"{line}.row": [too_many]})
        if len(cells) != len(header):
            yield ImportRow(
                line, errors={"row": [f"{len(cells)} cells; the header names {len(header)}."]}
            )
            continue
        data = {name: _CELLS[name](text) for name, text in zip(header, cells, strict=True) if text}
        serializer = CouponCreateInput(data=data)
        if serializer.is_valid():
            yield ImportRow(line, fields=dict(serializer.validated_data))
        else:
            yield ImportRow(line, errors=flatten_errors(serializer.errors))
    if rows == 0:
        raise ValidationFailed({"2.row": ["No rows after the header."]})


class ImportParams(serializers.Serializer):
    campaign_id = StrictUUIDField(required=False)


@extend_schema_serializer(component_name="ImportResult")
class ImportResult(serializers.Serializer):
    """How many coupons the file created."""

    created = serializers.IntegerField()


class CouponImportView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="import_coupons",
        summary="Import coupons from CSV",
        description=(
            "Creates the coupons of a CSV file (`text/csv`, UTF-8, a header line naming the "
            "columns). Every bad row is reported by line and column, and then nothing is imported."
        ),
        parameters=[
            OpenApiParameter(
                "campaign_id",
                {"type": "string", "format": "uuid"},
                required=False,
                description="The codes join this campaign (and take its discount).",
            )
        ],
        # A file, as OpenAPI 3.0 writes one: a client sends it as bytes.
        request={CSV_MEDIA_TYPE: {"type": "string", "format": "binary"}},
        responses={
            201: ImportResult,
            **problems(
                400,
                413,
                415,
                _400="validation_error, with errors keyed <line>.<column> (the header is "
                "line 1): every bad row; nothing is imported",
                _415="unsupported_media_type: send text/csv",
            ),
        },
    )
    async def post(self, request: Request) -> HttpResponse:
        params = request.query_params
        unknown = sorted(set(params) - {"campaign_id"})
        if unknown:
            use = ["Unknown parameter; use campaign_id."]
            raise ValidationFailed({name: use for name in unknown})
        campaign_id = validated(ImportParams, dict(params.items())).get("campaign_id")
        text = csv_body(request)
        created = await aimport_coupons(
            import_rows(io.StringIO(text, newline=""), max_rows=MAX_IMPORT_ROWS),
            campaign_id=campaign_id,
        )
        return json_response({"created": created}, status=201)


def csv_body(request: Request) -> str:
    """The body as text: `text/csv` in UTF-8 (a byte order mark is dropped)."""
    django_request = request._request
    content_type = django_request.META.get("CONTENT_TYPE", "")
    if content_type.split(";", 1)[0].strip().lower() != CSV_MEDIA_TYPE:
        raise UnsupportedMediaType("Send the body as text/csv.")
    try:
        raw = django_request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge() from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed({"body": [f"Must be UTF-8 text: {exc.reason}."]}) from exc
