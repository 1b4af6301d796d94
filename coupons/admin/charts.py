"""The admin's activity charts: a coupon's or a campaign's last 30 days from the report
service (coupons.services.reports), drawn by the server as inline SVG (no JavaScript, no
other host), with the totals, a CSV of the series and a CSV of the redemptions."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from asgiref.sync import async_to_sync
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from core.errors import NotFound
from coupons.services import reports
from coupons.services.exports import aredemption_csv
from coupons.services.reports import Bucket, Report

DAYS = 30
WIDTH, HEIGHT, PAD = 600, 110, 18
SERIES_HEADER = ["start", "redemptions", "reverted", "discount_amount", "order_amount"]


def last_days(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last 30 days of the admin's zone (UTC), today's so far included."""
    now = now or timezone.now()
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    return today - timedelta(days=DAYS - 1), now


def _bars(css: str, title: str, series: Sequence[Bucket], values: Sequence[int], unit: str) -> str:
    top = max(max(values, default=0), 1)
    step = WIDTH / max(len(values), 1)
    inner = HEIGHT - 2 * PAD
    parts = [
        f'<svg class="chart {css}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="12" font-size="11">{escape(title)} (at most {top:,} {unit})</text>',
        f'<line x1="0" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}" stroke="#999"/>',
    ]
    for index, (bucket, value) in enumerate(zip(series, values, strict=True)):
        height = inner * value / top
        day = bucket.start.date().isoformat()
        parts.append(
            f'<rect class="bar" x="{index * step + 1:.1f}" y="{HEIGHT - PAD - height:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{height:.1f}" fill="#417690">'
            f"<title>{day}: {value:,} {unit}</title></rect>"
        )
    if series:
        first, last = series[0].start.date(), series[-1].start.date()
        parts.append(f'<text x="0" y="{HEIGHT - 4}" font-size="10">{first}</text>')
        parts.append(
            f'<text x="{WIDTH}" y="{HEIGHT - 4}" font-size="10" text-anchor="end">{last}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _burn_down(series: Sequence[Bucket], *, budget: int, spent_now: int, currency: str) -> str:
    """The budget left at the end of each day, as the redemptions stand now (reverted
    ones given back): what is spent now, less what the later days spent."""
    left: list[int] = []
    later = 0
    for bucket in reversed(series):
        left.append(budget - (spent_now - later))
        later += bucket.discount_amount
    left.reverse()
    step = WIDTH / max(len(left), 1)
    inner = HEIGHT - 2 * PAD
    points = " ".join(
        f"{index * step + step / 2:.1f},{HEIGHT - PAD - inner * max(value, 0) / max(budget, 1):.1f}"
        for index, value in enumerate(left)
    )
    return (
        f'<svg class="chart burn-down" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>Budget left at the end of each day</title>"
        f'<text x="0" y="12" font-size="11">Budget left: {left[-1] if left else budget:,} of '
        f"{budget:,} {escape(currency)}</text>"
        f'<line x1="0" y1="{PAD}" x2="{WIDTH}" y2="{PAD}" stroke="#ccc" stroke-dasharray="4"/>'
        f'<line x1="0" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        f'<polyline points="{points}" fill="none" stroke="#ba2121" stroke-width="2"/>'
        "</svg>"
    )


def activity_html(
    report: Report,
    *,
    series_csv_url: str,
    redemptions_csv_url: str,
    budget: tuple[int, int, str] | None = None,
) -> SafeString:
    """The charts, the totals and the two CSV links; `budget`: (amount, spent now,
    currency) for a campaign with one."""
    series = report.series
    totals = report.totals
    charts = [
        _bars("redemptions", "Redemptions per day", series,
              [b.redemptions for b in series], "redemptions"),
        _bars("discount", "Discount per day (live redemptions)", series,
              [b.discount_amount for b in series], "minor units"),
    ]  # fmt: skip
    if budget is not None:
        amount, spent, currency = budget
        charts.append(_burn_down(series, budget=amount, spent_now=spent, currency=currency))
    facts = format_html(
        '<table class="report-totals"><tr><th>redemptions</th><td>{}</td>'
        "<th>reverted</th><td>{}</td><th>live</th><td>{}</td></tr>"
        "<tr><th>discount total</th><td>{}</td><th>order total</th><td>{}</td>"
        "<th>unique customers</th><td>{}</td></tr>"
        "<tr><th>holds confirmed</th><td>{}</td><th>released</th><td>{}</td>"
        "<th>expired</th><td>{}</td></tr></table>",
        totals.redemptions, totals.reverted, totals.live, totals.discount_total,
        totals.order_total, totals.unique_customers, totals.holds_confirmed,
        totals.holds_released, totals.holds_expired,
    )  # fmt: skip
    links = format_html(
        '<p><a href="{}">Export these days as CSV</a> · '
        '<a href="{}">Export all its redemptions as CSV</a></p>',
        series_csv_url,
        redemptions_csv_url,
    )
    since = series[0].start.date() if series else report.start.date()
    caption = format_html("<p>Since {} (UTC days), today included.</p>", since)
    return mark_safe(  # noqa: S308 - every value above is a number or escaped
        '<div class="activity">' + caption + "".join(charts) + facts + links + "</div>"
    )


def series_csv_response(report: Report, *, filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SERIES_HEADER)
    for b in report.series:
        writer.writerow(
            [b.start.isoformat(), b.redemptions, b.reverted, b.discount_amount, b.order_amount]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def redemptions_csv_response(
    *, coupon_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None
) -> StreamingHttpResponse:
    """A coupon's (or a campaign's) redemptions as the API's export streams them, oldest
    first; an unknown one is a 404."""
    try:
        lines = async_to_sync(aredemption_csv)(coupon_id=coupon_id, campaign_id=campaign_id)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    response = StreamingHttpResponse(lines, content_type="text/csv")
    name = f"coupon-{coupon_id}" if coupon_id else f"campaign-{campaign_id}"
    response["Content-Disposition"] = f'attachment; filename="{name}-redemptions.csv"'
    return response


class ReportDownloads:
    """The two CSV downloads of a coupon's or a campaign's change page (`scope`): its last
    30 days from the report service, and its redemptions streamed."""

    scope: str  # "coupon" or "campaign"

    def report_csv_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        self._may_view(request)
        start, end = last_days()
        report_of = reports.coupon_report if self.scope == "coupon" else reports.campaign_report
        try:
            report = report_of(object_id, start=start, end=end)
        except NotFound as exc:
            raise Http404(exc.detail) from exc
        return series_csv_response(report, filename=f"{self.scope}-{object_id}-days.csv")

    def redemptions_csv_view(
        self, request: HttpRequest, object_id: uuid.UUID
    ) -> StreamingHttpResponse:
        self._may_view(request)
        return redemptions_csv_response(**{f"{self.scope}_id": object_id})

    def report_urls(self) -> list[URLPattern]:
        """The two downloads' routes, named admin:coupons_<scope>_report_csv and
        admin:coupons_<scope>_redemptions_csv."""
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("<uuid:object_id>/report.csv", view(self.report_csv_view),
                 name=f"coupons_{self.scope}_report_csv"),
            path("<uuid:object_id>/redemptions.csv", view(self.redemptions_csv_view),
                 name=f"coupons_{self.scope}_redemptions_csv"),
        ]  # fmt: skip

    def _may_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
