"""The one module that reads and writes the database for the API, the admin and commands.

Functions are sync; each is one unit of work (at most one transaction). Their `a`-prefixed
twins run them through ONE thread hop (`in_worker`), because `transaction.atomic` cannot be
used in `async def` and every extra hop costs a thread switch.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F, Model, ProtectedError, Q, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone

from coupons.errors import (
    AlreadyReverted,
    CountBelowUsed,
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponNotFound,
    CouponNotStarted,
    CustomerIdRequired,
    CustomerLimitReached,
    DuplicateCode,
    HasRedemptions,
    IdempotencyKeyReused,
    NotFound,
    ProblemError,
    ValidationFailed,
)
from coupons.models import ApiKey, ApiKeyScope, Coupon, IdempotencyRecord, Redemption, code_key

CODE_UNIQUE_CONSTRAINT = "coupon_code_unique_ignoring_case"


def _then_release_connections[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    def unit(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            # Back to the pool at once, and forget the wrapper: the next unit may run in
            # another worker thread, and Django's connection wrappers belong to one thread.
            for alias in connections:
                if connections[alias].connection is not None:
                    connections[alias].close()
                del connections[alias]

    return unit


# As many worker threads as pooled connections: the event loop's default executor has only
# cores + 4 threads, which capped a 64-connection GET benchmark at a third of its rate
# while the CPU sat half idle.
_DB_WORKERS = ThreadPoolExecutor(
    max_workers=settings.DB_WORKER_THREADS, thread_name_prefix="db-worker"
)


def in_worker[**P, R](fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`fn` as a coroutine function running in the database worker threads.

    Not thread-sensitive: Django would otherwise start a thread for every request (its
    per-request ThreadSensitiveContext) and run each hop there. A unit of work holds a
    pooled connection only while it runs, so no connection leaks between threads.
    """
    return sync_to_async(
        _then_release_connections(fn), thread_sensitive=False, executor=_DB_WORKERS
    )


def _violates(exc: IntegrityError, constraint: str) -> bool:
    cause = exc.__cause__
    diag_name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    return diag_name == constraint or constraint in str(exc)


# Coupons


def create_coupon(
    *,
    code: str,
    init_count: int,
    is_active: bool = True,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    per_customer_limit: int | None = None,
) -> Coupon:
    """Insert a coupon with all its uses left; the unique index, not a prior SELECT,
    decides a duplicate, so two concurrent creates of one code cannot both succeed."""
    fields = {
        "code": code, "init_count": init_count, "remaining_count": init_count,
        "is_active": is_active, "starts_at": starts_at, "expires_at": expires_at,
        "per_customer_limit": per_customer_limit,
    }  # fmt: skip
    try:
        if connection.in_atomic_block:
            # A savepoint, so that a duplicate does not break the caller's transaction.
            with transaction.atomic():
                return _insert_coupon(fields)
        # Alone, one INSERT in autocommit is atomic by itself: no BEGIN and COMMIT round
        # trips (measured with `make bench`, POST create coupon).
        return _insert_coupon(fields)
    except IntegrityError as exc:
        if _violates(exc, CODE_UNIQUE_CONSTRAINT):
            raise DuplicateCode(f"A coupon with the code {code!r} already exists.") from exc
        raise


acreate_coupon = in_worker(create_coupon)


_COUPON_COLUMNS = [str(f.column) for f in Coupon._meta.concrete_fields]
_COUPON_FIELDS = [f.attname for f in Coupon._meta.concrete_fields]
_INSERT_COUPON = (
    f"INSERT INTO {Coupon._meta.db_table} ({', '.join(_COUPON_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_COUPON_COLUMNS))})"
)
_SELECT_COUPON = f"SELECT {', '.join(_COUPON_COLUMNS)} FROM {Coupon._meta.db_table} WHERE "  # noqa: S608


def _insert_coupon(fields: dict[str, Any]) -> Coupon:
    """One INSERT without `Model.save()`: on POST create coupon, save() and the insert
    compiler were ~20% of the worker's CPU in a py-spy profile of `make bench`. With the
    shared input fields (api/serializers.py) it took the worker's CPU per create from
    ~1,350 to ~910 us (two A/B rounds with the bench harness; GET drifted -11% meanwhile).
    Every column is given (no database defaults), so the returned instance is exact.
    PostgreSQL only; SQLite, for development, goes through the ORM."""
    if connection.vendor != "postgresql":
        return Coupon.objects.create(**fields)
    now = timezone.now()
    values = {**fields, "id": uuid.uuid4(), "created_at": now, "updated_at": now}
    row = [values[name] for name in _COUPON_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_COUPON, row)
    return Coupon.from_db(connection.alias, _COUPON_FIELDS, row)


def _one_coupon(where: str, value: Any) -> Coupon | None:
    """One coupon by a fixed, indexed condition, without compiling a queryset: on the hot
    reads (GET by id, validation) the ORM's query building was ~30% of the CPU per
    request in a profile of `make bench` (py-spy). PostgreSQL only (psycopg returns
    finished values); SQLite, for development, goes through the ORM's converters."""
    if connection.vendor != "postgresql":
        field = "pk" if where == "id" else "code__upper"
        return Coupon.objects.filter(**{field: value}).first()
    with connection.cursor() as cursor:
        cursor.execute(f"{_SELECT_COUPON}{where} = %s", [value])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        field.to_python(raw) if field.attname == "id" else raw
        for field, raw in zip(Coupon._meta.concrete_fields, row, strict=True)
    ]
    return Coupon.from_db(connection.alias, _COUPON_FIELDS, values)


def get_coupon(coupon_id: uuid.UUID) -> Coupon:
    coupon = _one_coupon("id", Coupon._meta.pk.get_db_prep_value(coupon_id, connection))
    if coupon is None:
        raise NotFound(f"No coupon has the id {coupon_id}.")
    return coupon


aget_coupon = in_worker(get_coupon)


# What a client or staff may change after creation (the API's PATCH, the admin's form).
EDITABLE_FIELDS = ("is_active", "starts_at", "expires_at", "per_customer_limit", "init_count")
_EDITABLE = frozenset(EDITABLE_FIELDS)


def update_coupon(coupon_id: uuid.UUID, *, changes: dict[str, Any]) -> Coupon:
    """Apply `changes` (the editable fields only) in one conditional UPDATE.

    A new `init_count` moves `remaining_count` by the same delta in SQL, so a redemption
    committing at the same moment is never lost; the condition refuses a count that would
    leave fewer uses than were already spent.
    """
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if not changes:
        return get_coupon(coupon_id)
    now = timezone.now()
    values: dict[str, Any] = {**changes, "updated_at": now}
    matching = Coupon.objects.filter(pk=coupon_id)
    if "init_count" in changes:
        new_count = changes["init_count"]
        # All SET expressions read the row as it was, so this delta uses the old init_count.
        values["remaining_count"] = F("remaining_count") + (new_count - F("init_count"))
        matching = matching.filter(remaining_count__gte=F("init_count") - new_count)
    try:
        with transaction.atomic():
            changed = matching.update(**values)
            if not changed:
                used = (
                    Coupon.objects.filter(pk=coupon_id)
                    .values_list(F("init_count") - F("remaining_count"), flat=True)
                    .first()
                )
                if used is None:
                    raise NotFound(f"No coupon has the id {coupon_id}.")
                raise CountBelowUsed(
                    f"{used} use(s) are already spent; init_count cannot go below that."
                )
            return Coupon.objects.get(pk=coupon_id)
    except IntegrityError as exc:
        if _violates(exc, "coupon_window_starts_before_it_expires"):
            raise ValidationFailed({"expires_at": ["Must be after starts_at."]}) from exc
        raise


aupdate_coupon = in_worker(update_coupon)


def set_coupons_active(coupon_ids: list[uuid.UUID], *, active: bool) -> int:
    """Activate or deactivate many coupons in one UPDATE (the counts are not touched)."""
    return Coupon.objects.filter(pk__in=coupon_ids).update(
        is_active=active, updated_at=timezone.now()
    )


def delete_coupon(coupon_id: uuid.UUID) -> None:
    """Delete a coupon that was never redeemed; history is never lost."""
    try:
        with transaction.atomic():
            deleted, _ = Coupon.objects.filter(pk=coupon_id).delete()
    except ProtectedError as exc:  # the redemptions' FK is PROTECT
        raise HasRedemptions() from exc
    except IntegrityError as exc:  # a redemption committed between Django's check and delete
        raise HasRedemptions() from exc
    if not deleted:
        raise NotFound(f"No coupon has the id {coupon_id}.")


adelete_coupon = in_worker(delete_coupon)


def coupon_page(
    *,
    cursor: Cursor | None,
    size: int,
    code: str | None = None,
    code_prefix: str | None = None,
    is_active: bool | None = None,
    exhausted: bool | None = None,
) -> Page[Coupon]:
    """Coupons newest first, by keyset on (created_at, id): stable while rows are added."""
    queryset = Coupon.objects.all()
    if code is not None:
        queryset = queryset.with_code(code)
    if code_prefix is not None:
        # Served by the upper(code) text_pattern_ops index on PostgreSQL (migration 0003).
        queryset = queryset.filter(code__upper__startswith=code_key(code_prefix))
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    if exhausted is not None:
        queryset = queryset.exhausted() if exhausted else queryset.exclude(remaining_count=0)
    return _keyset_page(queryset, moment="created_at", cursor=cursor, size=size)


acoupon_page = in_worker(coupon_page)


# Batches of generated codes

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0 O 1 I L: read aloud, typed by hand
_INSERT_COLUMNS = (
    "id", "code", "init_count", "remaining_count", "is_active", "starts_at", "expires_at",
    "per_customer_limit", "created_at", "updated_at",
)  # fmt: skip
BATCH_CHUNK_SIZE = 2_000  # 20,000 parameters a statement: under PostgreSQL's and SQLite's limits


def random_code(prefix: str, length: int) -> str:
    """`prefix` plus `length` characters of CODE_ALPHABET from the OS's CSPRNG."""
    alphabet, size = CODE_ALPHABET, len(CODE_ALPHABET)
    limit = 256 - 256 % size  # reject the bytes that would bias the modulo
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(alphabet[b % size] for b in secrets.token_bytes(length * 2) if b < limit)
    return prefix + "".join(chars[:length])


def _insert_new_codes(codes: list[str], row: dict[str, Any]) -> list[str]:
    """Insert one coupon per code in ONE statement; the codes that already existed (in any
    letter case) are skipped by the unique index and left out of the answer."""
    if not codes:
        return []
    ops, pk = connection.ops, Coupon._meta.pk
    values = [
        ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
        for v in (row[c] for c in _INSERT_COLUMNS[2:])
    ]
    placeholders = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
    params: list[Any] = []
    for code in codes:
        params.extend([pk.get_db_prep_value(uuid.uuid4(), connection), code, *values])
    sql = (
        f"INSERT INTO {Coupon._meta.db_table} ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(codes))} "
        "ON CONFLICT DO NOTHING RETURNING code"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [r[0] for r in cursor.fetchall()]


def generate_coupons(
    *,
    count: int,
    prefix: str,
    length: int,
    init_count: int,
    is_active: bool = True,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    per_customer_limit: int | None = None,
    chunk_size: int = BATCH_CHUNK_SIZE,
) -> Iterator[list[str]]:
    """Create `count` coupons with fresh random codes, yielding each chunk's codes once
    inserted. Run it inside a transaction for all-or-none. Memory stays flat in `count`:
    uniqueness is the database's unique index, and a code that collides is drawn again."""
    now = timezone.now()
    row = {
        "init_count": init_count, "remaining_count": init_count, "is_active": is_active,
        "starts_at": starts_at, "expires_at": expires_at,
        "per_customer_limit": per_customer_limit, "created_at": now, "updated_at": now,
    }  # fmt: skip
    left = count
    while left > 0:
        wanted = min(chunk_size, left)
        made: list[str] = []
        for attempt in range(30):
            needed = wanted - len(made)
            # A set: no duplicates inside one statement (ON CONFLICT cannot skip those).
            drawn = {
                random_code(prefix, length)
                for _ in range(needed if attempt == 0 else needed * 4 + 32)
            }
            if attempt > 0:
                # Collisions happened: draw more than needed and keep the free ones, so a
                # crowded space still fills in a few round trips.
                drawn -= set(
                    Coupon.objects.filter(code__upper__in=list(drawn)).values_list(
                        Upper("code"), flat=True
                    )
                )
            made.extend(_insert_new_codes(sorted(drawn)[:needed], row))
            if len(made) == wanted:
                break
        else:
            raise ValidationFailed(
                {"length": ["Too few unused codes of this prefix and length are left."]}
            )
        left -= wanted
        yield made


def create_coupon_batch(*, count: int, prefix: str, length: int, **fields: Any) -> list[str]:
    """`count` new coupons with random codes, all created or none."""
    with transaction.atomic():
        return [
            code
            for chunk in generate_coupons(count=count, prefix=prefix, length=length, **fields)
            for code in chunk
        ]


acreate_coupon_batch = in_worker(create_coupon_batch)


# Redemptions


@dataclass(frozen=True, slots=True)
class RedemptionRecord:
    id: uuid.UUID
    coupon_id: uuid.UUID
    code: str
    customer_id: str | None
    order_id: str | None
    remaining_count: int
    redeemed_at: datetime
    reverted_at: datetime | None


def _record(redemption: Redemption, code: str) -> RedemptionRecord:
    return RedemptionRecord(
        id=redemption.id,
        coupon_id=redemption.coupon_id,
        code=code,
        customer_id=redemption.customer_id,
        order_id=redemption.order_id,
        remaining_count=redemption.remaining_after,
        redeemed_at=redemption.redeemed_at,
        reverted_at=redemption.reverted_at,
    )


def refusal_for(coupon: Coupon, *, now: datetime, customer_id: str | None) -> ProblemError | None:
    """Why `coupon` cannot be spent at `now`, in the order clients are told; None if it can.
    The per-customer count is checked separately: it needs a query."""
    if coupon.per_customer_limit is not None and not customer_id:
        return CustomerIdRequired()
    if not coupon.is_active:
        return CouponInactive()
    if coupon.starts_at is not None and now < coupon.starts_at:
        return CouponNotStarted(f"The coupon can be used from {coupon.starts_at.isoformat()}.")
    if coupon.expires_at is not None and now >= coupon.expires_at:
        return CouponExpired(f"The coupon expired at {coupon.expires_at.isoformat()}.")
    if coupon.remaining_count <= 0:
        return CouponExhausted()
    return None


def _live_redemptions_of(coupon_id: uuid.UUID, customer_id: str) -> int:
    return Redemption.objects.filter(
        coupon_id=coupon_id, customer_id=customer_id, reverted_at__isnull=True
    ).count()


_SPEND_ONE_USE = f"""
    UPDATE {Coupon._meta.db_table}
       SET remaining_count = remaining_count - 1, updated_at = %s
     WHERE UPPER(code) = %s
       AND is_active
       AND remaining_count > 0
       AND (starts_at IS NULL OR starts_at <= %s)
       AND (expires_at IS NULL OR expires_at > %s)
 RETURNING id, code, remaining_count, per_customer_limit
"""  # noqa: S608 - the table name is ours; values are parameters


def redeem_coupon(
    *,
    code: str,
    customer_id: str | None = None,
    order_id: str | None = None,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> RedemptionRecord:
    """Spend one use of the coupon with `code` (any letter case) and record who spent it.

    Never oversold by construction: one conditional UPDATE decides, in the database, whether
    a use is left, and the redemption row is written in the same transaction. The CHECK
    constraint `remaining_count >= 0` backs it.
    """
    now = now or timezone.now()
    db_now = connection.ops.adapt_datetimefield_value(now)
    if connection.vendor == "postgresql":
        spent = _redeem_in_one_statement(
            code=code, customer_id=customer_id, order_id=order_id, api_key_id=api_key_id, now=now
        )
        if spent is not None:
            return spent
    # Coupons with a per-customer limit, refusals, and SQLite take the general path.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One statement both tests and spends; the matched row stays locked until commit.
        cursor.execute(_SPEND_ONE_USE, [db_now, code_key(code), db_now, db_now])
        row = cursor.fetchone()
        if row is None:
            raise _why_not_redeemable(code, now=now, customer_id=customer_id)
        coupon_id = Coupon._meta.pk.to_python(row[0])
        exact_code, remaining, per_customer_limit = row[1], row[2], row[3]
        if per_customer_limit is not None:
            if not customer_id:
                raise CustomerIdRequired()  # rolls the spend back
            # Race-free: concurrent redemptions of this coupon wait on the row lock the
            # UPDATE took, so this count (a fresh snapshot) sees every one committed before.
            if _live_redemptions_of(coupon_id, customer_id) >= per_customer_limit:
                raise CustomerLimitReached(
                    f"Customer {customer_id!r} already holds {per_customer_limit} "
                    f"redemption(s) of this coupon."
                )
        redemption = Redemption.objects.create(
            coupon_id=coupon_id,
            customer_id=customer_id,
            order_id=order_id,
            remaining_after=remaining,
            redeemed_at=now,
            api_key_id=api_key_id,
        )
    return _record(redemption, exact_code)


_SPEND_AND_RECORD = f"""
    WITH spent AS (
        UPDATE {Coupon._meta.db_table}
           SET remaining_count = remaining_count - 1, updated_at = %(now)s
         WHERE UPPER(code) = %(code)s
           AND is_active
           AND remaining_count > 0
           AND per_customer_limit IS NULL
           AND (starts_at IS NULL OR starts_at <= %(now)s)
           AND (expires_at IS NULL OR expires_at > %(now)s)
     RETURNING id, code, remaining_count
    )
    INSERT INTO {Redemption._meta.db_table}
           (id, coupon_id, customer_id, order_id, remaining_after, redeemed_at, api_key_id)
    SELECT %(id)s, id, %(customer_id)s, %(order_id)s, remaining_count, %(now)s, %(api_key_id)s
      FROM spent
    RETURNING coupon_id, (SELECT code FROM spent), remaining_after
"""  # noqa: S608 - the table names are ours; values are parameters


def _redeem_in_one_statement(
    *,
    code: str,
    customer_id: str | None,
    order_id: str | None,
    api_key_id: uuid.UUID | None,
    now: datetime,
) -> RedemptionRecord | None:
    """The common case (no per-customer limit, a use left) in ONE statement and round trip,
    atomic by itself: spend the use and write the redemption row together. Measured with
    `make bench` on one hot coupon: BEGIN, UPDATE, INSERT, COMMIT through the ORM was four
    round trips. None when nothing was spent (then the general path decides and says why).
    """
    redemption_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            _SPEND_AND_RECORD,
            {
                "now": now, "code": code_key(code), "id": redemption_id,
                "customer_id": customer_id, "order_id": order_id, "api_key_id": api_key_id,
            },
        )  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        return None
    return RedemptionRecord(
        id=redemption_id,
        coupon_id=row[0],
        code=row[1],
        customer_id=customer_id,
        order_id=order_id,
        remaining_count=row[2],
        redeemed_at=now,
        reverted_at=None,
    )


def _why_not_redeemable(code: str, *, now: datetime, customer_id: str | None) -> ProblemError:
    coupon = Coupon.objects.with_code(code).first()
    if coupon is None:
        return CouponNotFound(f"No coupon has the code {code!r}.")
    # A use given back between the UPDATE and this read still counts as exhausted: at the
    # moment of the UPDATE, it was.
    return refusal_for(coupon, now=now, customer_id=customer_id) or CouponExhausted()


@dataclass(frozen=True, slots=True)
class ValidationResult:
    valid: bool
    reason: str | None
    remaining_count: int | None


def validate_code(
    *, code: str, customer_id: str | None = None, now: datetime | None = None
) -> ValidationResult:
    """The same checks as `redeem_coupon`, spending nothing."""
    now = now or timezone.now()
    coupon = _one_coupon("UPPER(code)", code_key(code))
    if coupon is None:
        return ValidationResult(valid=False, reason=CouponNotFound.code, remaining_count=None)
    refusal = refusal_for(coupon, now=now, customer_id=customer_id)
    if (
        refusal is None
        and coupon.per_customer_limit is not None
        and customer_id
        and _live_redemptions_of(coupon.id, customer_id) >= coupon.per_customer_limit
    ):
        refusal = CustomerLimitReached()
    return ValidationResult(
        valid=refusal is None,
        reason=refusal.code if refusal else None,
        remaining_count=coupon.remaining_count,
    )


def revert_redemption(redemption_id: uuid.UUID, *, now: datetime | None = None) -> RedemptionRecord:
    """Give the use back, exactly once."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock order: the redemption row, then its coupon row. Redeeming locks only the
        # coupon row (and inserts new rows), so the two can never wait on each other in a
        # cycle. The conditional UPDATE makes concurrent reverts of one redemption race on
        # that row: exactly one matches.
        stamped = Redemption.objects.filter(pk=redemption_id, reverted_at__isnull=True).update(
            reverted_at=now
        )
        if not stamped:
            if Redemption.objects.filter(pk=redemption_id).exists():
                raise AlreadyReverted()
            raise NotFound(f"No redemption has the id {redemption_id}.")
        redemption = Redemption.objects.select_related("coupon").get(pk=redemption_id)
        Coupon.objects.filter(pk=redemption.coupon_id).update(
            remaining_count=F("remaining_count") + 1, updated_at=now
        )
    return _record(redemption, redemption.coupon.code)


def get_redemption(redemption_id: uuid.UUID) -> RedemptionRecord:
    try:
        redemption = Redemption.objects.select_related("coupon").get(pk=redemption_id)
    except Redemption.DoesNotExist as exc:
        raise NotFound(f"No redemption has the id {redemption_id}.") from exc
    return _record(redemption, redemption.coupon.code)


aget_redemption = in_worker(get_redemption)


# Cursor pages, newest first, stable under inserts: a cursor names the last row seen.


@dataclass(frozen=True, slots=True)
class Cursor:
    after: tuple[datetime, uuid.UUID]
    direction: Literal["next", "previous"]

    # Signed (HMAC with SECRET_KEY), so a cursor is opaque: one made up or changed is a 400
    # before anything in it is decoded, let alone sent to the database (a made-up offset of
    # +16:00 was PostgreSQL's DataError, a number for the id an AttributeError: 500s).
    SALT = "coupons.cursor"

    def token(self) -> str:
        moment = self.after[0].isoformat()
        return signing.dumps([moment, str(self.after[1]), self.direction[0]], salt=self.SALT)

    @classmethod
    def parse(cls, token: str) -> Cursor:
        try:
            moment, row_id, direction = signing.loads(token, salt=cls.SALT)
            if not isinstance(moment, str) or not isinstance(row_id, str):
                raise TypeError(token)
            parsed = datetime.fromisoformat(moment)
            if parsed.tzinfo is None or direction not in ("n", "p"):
                raise ValueError(token)
            return cls(
                after=(parsed.astimezone(UTC), uuid.UUID(row_id)),
                direction="next" if direction == "n" else "previous",
            )
        except (signing.BadSignature, ValueError, TypeError, RecursionError) as exc:
            raise ValidationFailed({"cursor": ["Invalid cursor."]}) from exc


@dataclass(slots=True)
class Page[T]:
    rows: list[T]
    next: Cursor | None = None
    previous: Cursor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _keyset_page[M: Model](
    queryset: QuerySet[M], *, moment: str, cursor: Cursor | None, size: int
) -> Page[M]:
    """One page of `queryset` ordered by (`moment`, id) descending, by keyset, not OFFSET."""
    newest_first = (F(moment).desc(), F("id").desc())
    if cursor is None:
        rows = list(queryset.order_by(*newest_first)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return Page(rows, next=_cursor_of(rows[-1], moment, "next") if more else None)
    at, row_id = cursor.after
    if cursor.direction == "next":
        older = Q(**{f"{moment}__lt": at}) | Q(**{moment: at, "id__lt": row_id})
        rows = list(queryset.filter(older).order_by(*newest_first)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            rows,
            next=_cursor_of(rows[-1], moment, "next") if more else None,
            previous=_cursor_of(rows[0], moment, "previous") if rows else None,
        )
    newer = Q(**{f"{moment}__gt": at}) | Q(**{moment: at, "id__gt": row_id})
    rows = list(queryset.filter(newer).order_by(F(moment).asc(), F("id").asc())[: size + 1])
    more = len(rows) > size
    rows = rows[:size][::-1]
    return Page(
        rows,
        next=_cursor_of(rows[-1], moment, "next") if rows else None,
        previous=_cursor_of(rows[0], moment, "previous") if more else None,
    )


def _cursor_of(row: Model, moment: str, direction: Literal["next", "previous"]) -> Cursor:
    return Cursor(after=(getattr(row, moment), row.pk), direction=direction)


def redemption_page(
    *,
    cursor: Cursor | None,
    size: int,
    coupon_id: uuid.UUID | None = None,
    customer_id: str | None = None,
    code: str | None = None,
) -> Page[RedemptionRecord]:
    queryset = Redemption.objects.select_related("coupon")
    if coupon_id is not None:
        queryset = queryset.filter(coupon_id=coupon_id)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if code is not None:
        queryset = queryset.filter(coupon__code__upper=code_key(code))
    page = _keyset_page(queryset, moment="redeemed_at", cursor=cursor, size=size)
    return Page(
        [_record(r, r.coupon.code) for r in page.rows], next=page.next, previous=page.previous
    )


def coupon_redemption_page(
    coupon_id: uuid.UUID, *, cursor: Cursor | None, size: int
) -> Page[RedemptionRecord]:
    if not Coupon.objects.filter(pk=coupon_id).exists():
        raise NotFound(f"No coupon has the id {coupon_id}.")
    return redemption_page(cursor=cursor, size=size, coupon_id=coupon_id)


aredemption_page = in_worker(redemption_page)
acoupon_redemption_page = in_worker(coupon_redemption_page)


# Idempotency: the first completed answer for a key, replayed to every retry.


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


_CLAIM_IDEMPOTENCY_KEY = f"""
    INSERT INTO {IdempotencyRecord._meta.db_table}
           (api_key_id, key, fingerprint, status_code, content_type, body, headers, created_at)
    VALUES (%s, %s, %s, NULL, '', '', '{{}}', %s)
    ON CONFLICT (api_key_id, key) DO NOTHING
    RETURNING id
"""  # noqa: S608 - the table name is ours; values are parameters


def answer_once(
    *,
    api_key_id: uuid.UUID,
    key: str,
    fingerprint: str,
    produce: Callable[[], StoredResponse],
    refusal: Callable[[ProblemError], StoredResponse],
) -> tuple[StoredResponse, bool]:
    """The answer for (`api_key_id`, `key`): produced now, or replayed. True if replayed.

    Claiming the key, the effect and the stored answer commit together. A concurrent
    request with the same key blocks on the unique index until the first commits (then
    replays its answer) or rolls back (then runs itself): one effect, identical answers.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    key_id = ApiKey._meta.pk.get_db_prep_value(api_key_id, connection)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_IDEMPOTENCY_KEY, [key_id, key, fingerprint, now])
        claimed = cursor.fetchone()
        if claimed is None:
            stored = IdempotencyRecord.objects.get(api_key_id=api_key_id, key=key)
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return (
                StoredResponse(
                    status=stored.status_code or 500,
                    content_type=stored.content_type,
                    body=stored.body.encode(),
                    headers=dict(stored.headers),
                ),
                True,
            )
        try:
            # A savepoint: a refusal undoes its partial effects but keeps the claim.
            with transaction.atomic():
                response = produce()
        except ProblemError as exc:
            if not exc.replayable:
                raise  # rolls the claim back too: a retry is served afresh
            response = refusal(exc)
        IdempotencyRecord.objects.filter(pk=claimed[0]).update(
            status_code=response.status,
            content_type=response.content_type,
            body=response.body.decode(),
            headers=response.headers,
        )
    return response, False


def purge_idempotency_records(*, older_than: timedelta) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


# API keys

API_KEY_PREFIX = "cpn_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ApiClient:
    """Who is calling: the authenticated API key, as DRF's `request.user`."""

    key_id: uuid.UUID
    name: str
    scope: str

    is_authenticated = True

    def may_use(self, required_scope: str) -> bool:
        return self.scope == ApiKeyScope.MANAGE or self.scope == required_scope


def hash_api_key(plain_key: str) -> str:
    # A fast hash is right here: the key is 256 random bits, not a password to stretch.
    return hashlib.sha256(plain_key.encode()).hexdigest()


def create_api_key(*, name: str, scope: str) -> tuple[ApiKey, str]:
    """Make a key; the plain key is returned once and never stored."""
    if scope not in ApiKeyScope.values:
        raise ValueError(f"scope must be one of {', '.join(ApiKeyScope.values)}")
    plain_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name, scope=scope, prefix=plain_key[:12], key_hash=hash_api_key(plain_key)
    )
    return api_key, plain_key


def revoke_api_key(key_id: uuid.UUID) -> None:
    ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    _forget_api_keys()


class _ApiKeyCache:
    """A short-lived in-process memory of key lookups, so that authenticating a request
    costs no database round trip. Revocation reaches other processes within its TTL."""

    max_entries = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiClient | None]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> tuple[bool, ApiClient | None]:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key_hash: str, client: ApiClient | None, ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + ttl, client)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_api_key_cache = _ApiKeyCache()


def _forget_api_keys() -> None:
    _api_key_cache.clear()


def cached_api_client(plain_key: str) -> tuple[bool, ApiClient | None]:
    """(True, the client or None) when the key's lookup is cached; (False, None) if not.
    No database access: safe to call in the event loop."""
    if settings.API_KEY_CACHE_SECONDS <= 0:
        return False, None
    return _api_key_cache.get(hash_api_key(plain_key))


def api_client_for_key(plain_key: str) -> ApiClient | None:
    """The client a bearer key belongs to, or None for an unknown or revoked key."""
    key_hash = hash_api_key(plain_key)
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl > 0:
        known, cached = _api_key_cache.get(key_hash)
        if known:
            return cached
    row = (
        ApiKey.objects.filter(key_hash=key_hash)
        .values("id", "name", "scope", "revoked_at", "last_used_at")
        .first()
    )
    client = None
    if row is not None and row["revoked_at"] is None:
        client = ApiClient(key_id=row["id"], name=row["name"], scope=row["scope"])
        now = timezone.now()
        if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=row["id"]).update(last_used_at=now)
    if ttl > 0:
        _api_key_cache.put(key_hash, client, ttl)
    return client


# Operations


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


adatabase_answers = in_worker(database_answers)
