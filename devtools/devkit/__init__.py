"""Tools for developing kopplingar, kept out of the product wheel.

`devkit.localmail` starts a real Dovecot and a real SMTP server on loopback
for the tests and `kopplingar bench mailbox`; `devkit.screenshots` makes the
reviewer-page screenshots in `samples/screenshots/`. Installed from
`devtools/` by `scripts/setup.sh test`.
"""
