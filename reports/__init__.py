"""Report exports: each tenant's current snapshot rendered to files with a manifest."""
