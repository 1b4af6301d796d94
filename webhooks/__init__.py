"""Webhook endpoints and the signed delivery of the event log to them."""
