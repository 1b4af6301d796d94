"""API keys (only a hash of each is kept) and the answers kept for Idempotency-Key retries."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class ApiKeyScope(models.TextChoices):
    MANAGE = "manage", "manage (everything under /v1/)"
    REDEEM = "redeem", "redeem (redemptions and validations only)"


class ApiKey(models.Model):
    """A client's bearer key. Only a SHA-256 of the key is stored; the key is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=ApiKeyScope.choices)
    prefix = models.CharField(max_length=16, editable=False, help_text="Start of the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "coupons_apikey"  # kept from the coupons app (migrations 0011)
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=[ApiKeyScope.MANAGE, ApiKeyScope.REDEEM]),
                name="api_key_scope_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyRecord(models.Model):
    """The first completed answer for an Idempotency-Key of one API key, replayed on retry."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and canonical JSON body: the same key with another request
    # is refused rather than answered with a stranger's response.
    fingerprint = models.CharField(max_length=64)
    status_code = models.SmallIntegerField(null=True)
    content_type = models.CharField(max_length=64, blank=True, default="")
    body = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "coupons_idempotencyrecord"  # kept from the coupons app (migrations 0011)
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_per_api_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return self.key
