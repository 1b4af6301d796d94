"""Units of work over the database, one module per capability. Each function is sync and
is at most one transaction; the API runs it through one hop (`core.workers.in_worker`),
the admin and the commands call it directly. Every write goes through them; the admin's
lists and search read through Django's ModelAdmin querysets."""
