"""Sample mail and torture mail for the mailbox intake, built by code from the scan corpus.

`build_sample_mail(out_dir)` writes everyday customer mail (`sample_mail()`
says what each should give); `torture_messages()` and `write_torture_folder`
give hostile and broken messages, each with the end state the intake must
reach. Nothing here is committed as data: the same seed gives the same bytes.
"""

from samples.mail.build import (
    DEFAULT_SEED,
    MAILBOX,
    SampleMail,
    build_sample_mail,
    sample_mail,
    sample_mail_messages,
)
from samples.mail.demo import (
    DEMO_DIGITAL,
    DIGITAL_DIR,
    DIGITAL_TRUST_DIR,
    build_demo_mail,
    demo_mail,
    demo_trust_roots,
)
from samples.mail.torture import HUGE_BYTES, TortureCase, torture_messages, write_torture_folder

__all__ = [
    "DEFAULT_SEED",
    "DEMO_DIGITAL",
    "DIGITAL_DIR",
    "DIGITAL_TRUST_DIR",
    "HUGE_BYTES",
    "MAILBOX",
    "SampleMail",
    "TortureCase",
    "build_demo_mail",
    "build_sample_mail",
    "demo_mail",
    "demo_trust_roots",
    "sample_mail",
    "sample_mail_messages",
    "torture_messages",
    "write_torture_folder",
]
