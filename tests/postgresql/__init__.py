"""PostgreSQL for the test process (config/settings_test.py): flushes that delete rows."""
