"""Scanned-form intake: mailbox, pages, identify, align, read, validate (later issues)."""
