"""The shared kernel: errors and their problems, JSON in and out, pages, shapes, the
database hop, the framework forks."""
