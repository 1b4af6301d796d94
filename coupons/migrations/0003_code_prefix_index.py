"""An index for `code_prefix` searches (API list filter, admin search) on PostgreSQL.

`UPPER(code) LIKE 'XMAS-%'` can use a btree only with a pattern operator class when the
database's collation is not C; the unique index on UPPER(code) serves equality only.
SQLite (development) has no operator classes and scans instead.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS coupon_code_prefix "
    "ON coupons_coupon (UPPER(code) text_pattern_ops)"
)
DROP = "DROP INDEX IF EXISTS coupon_code_prefix"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("coupons", "0002_redemptions")]

    operations = [migrations.RunPython(create_index, drop_index)]
