"""A small deterministic MIME writer for the sample and torture mail.

The stdlib generator picks random boundaries and refolds headers its own way;
sample mail must come out byte for byte the same on every run, and torture
mail must be able to say things no generator would. So messages are put
together here from `Entity` values (content headers and an already encoded
body), with CRLF line ends as IMAP delivers them.
"""

from __future__ import annotations

import base64
import quopri
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import encode_rfc2231, formataddr

CRLF = b"\r\n"
Headers = Sequence[tuple[str, str]]


def encode_header(name: str, value: str) -> bytes:
    """One header line (folded if long), non-ASCII text as RFC 2047 encoded words."""
    if value.isascii():
        return f"{name}: {value}".encode("ascii") + CRLF
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii") + CRLF


def address(name: str, addr: str) -> str:
    """A From/To value with the display name encoded when it is not ASCII."""
    return formataddr((name, addr), charset="utf-8")


def filename_params(name: str) -> str:
    """The filename parameter, in RFC 2231 form when the name is not ASCII."""
    if name.isascii() and '"' not in name and "\\" not in name:
        return f'filename="{name}"'
    return f"filename*={encode_rfc2231(name, 'utf-8')}"


@dataclass(frozen=True)
class Entity:
    """A MIME entity: its content headers and its body, already transfer-encoded."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_bytes(self, extra: Headers = ()) -> bytes:
        head = b"".join(encode_header(n, v) for n, v in (*extra, *self.headers))
        return head + CRLF + self.body


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def base64_lines(data: bytes) -> bytes:
    return crlf(base64.encodebytes(data))


def text(body: str, *, subtype: str = "plain", charset: str = "utf-8") -> Entity:
    encoded = crlf(quopri.encodestring(crlf(body.encode(charset))))
    return Entity(
        (
            ("Content-Type", f"text/{subtype}; charset={charset}"),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ),
        encoded,
    )


def file(
    data: bytes,
    content_type: str,
    filename: str | None,
    *,
    disposition: str = "attachment",
    extra: Headers = (),
) -> Entity:
    """A base64 file part; filename None leaves the name out (inline images often do)."""
    ctype = content_type
    cdisp = disposition
    if filename is not None:
        ctype += f'; name="{filename}"' if filename.isascii() else ""
        cdisp += f"; {filename_params(filename)}"
    return Entity(
        (
            ("Content-Type", ctype),
            ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", cdisp),
            *extra,
        ),
        base64_lines(data),
    )


def multipart(subtype: str, boundary: str, parts: Sequence[Entity], params: str = "") -> Entity:
    body = b"This is a multi-part message in MIME format." + CRLF
    for part in parts:
        body += CRLF + f"--{boundary}".encode("ascii") + CRLF + part.to_bytes()
    body += CRLF + f"--{boundary}--".encode("ascii") + CRLF
    return Entity((("Content-Type", f'multipart/{subtype}; boundary="{boundary}"{params}'),), body)


def attached_message(raw: bytes, *, inline: bool = False) -> Entity:
    """A forwarded message as a message/rfc822 part."""
    return Entity(
        (
            ("Content-Type", "message/rfc822"),
            ("Content-Disposition", "inline" if inline else "attachment"),
        ),
        raw,
    )


def message(headers: Headers, entity: Entity) -> bytes:
    """A whole message: the envelope headers, MIME-Version, then the entity."""
    return entity.to_bytes((*headers, ("MIME-Version", "1.0")))
