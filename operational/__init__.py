"""The operational system of record: models, sessions, auth, generator."""
