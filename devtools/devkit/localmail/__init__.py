"""Local mail servers for the benchmarks, the tests and trying things out.

`kopplingar bench mailbox` needs a real IMAP server and a real SMTP server on
this machine; so do the tests. These modules start Debian's Dovecot and an
aiosmtpd server on loopback ports with a throwaway certificate. They are
never used to serve a real mailbox.
"""
