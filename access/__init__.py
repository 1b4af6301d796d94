"""Who may call: API keys, bearer authentication, scopes, Idempotency-Key records and the
code-guessing throttle."""
