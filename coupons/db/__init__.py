"""Infrastructure under the services: the database worker threads and raw-SQL fast paths."""
