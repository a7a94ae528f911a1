"""The submission queue and the reviewer pages (later issues)."""
