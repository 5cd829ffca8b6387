"""Administration over HTTP: reading the audit trail."""
