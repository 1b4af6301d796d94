"""Rules with no database and no HTTP that every app shares: money and metadata."""
