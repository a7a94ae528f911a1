"""Intake: what customers send us, read into the work queue.

Two halves, one above the other, each with its own public API:
`intake.scan` reads a file (a scan, a photo, a PDF) into forms, values,
signatures and findings, and knows nothing of mail; `intake.mail` takes
messages from the mailbox (IMAP or a folder), records them, has their
attachments read by `intake.scan` in child processes, queues the result and
moves each message on exactly once. Import from the half you use; this
package itself exports only the errors both share.
"""

from intake.errors import InputRejected, IntakeError

__all__ = ["InputRejected", "IntakeError"]
