"""AuditoryX Analytics: command line and shared settings."""
