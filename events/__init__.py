"""The outbox: events written with their change, and the pollable log."""
