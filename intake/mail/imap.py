"""The one module that speaks IMAP: a small, typed wrapper around imapclient.

`ImapMailbox` is what `intake.mail.mailbox` needs from a mail server and no more:
list the UIDs of one folder, look at their size and MIME shape, fetch a
message without marking it read, move it to another folder, and wait for new
mail with IDLE. TLS is always verified (against the system CAs plus an
optional extra CA file); what it connects with, and what is refused before
it does, is `intake.mail.imap_config`; XOAUTH2 tokens come from
`intake.mail.tokens`.

Every way the network or the server can fail becomes one of the errors of
`intake.mail.types` with a message that names the server and what was being
done, never a raw socket or imaplib traceback: `MailboxUnavailable` (the
caller reconnects; `MessageGone` for a UID that is no longer there),
`MailboxAuthFailed`, `MailboxConfigError`. A connection that cannot be made
is retried a few times with a doubling pause (tenacity) before
`MailboxUnavailable` reaches the caller.

Passwords and access tokens never appear in messages or logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import imaplib
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, Self

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError, LoginError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from intake.mail.imap_config import ImapConfig
from intake.mail.tokens import TokenProvider
from intake.mail.types import (
    MailboxAuthFailed,
    MailboxConfigError,
    MailboxError,
    MailboxUnavailable,
    MessageGone,
    MessageMeta,
)

log = logging.getLogger(__name__)

META_CHUNK = 500  # UIDs per FETCH of sizes and structures: short enough command lines
IDLE_SLICE = 24 * 60.0  # RFC 2177: servers may drop an IDLE after 29 minutes
LOGOUT_TIMEOUT = 5.0
MOVED_KEYWORD = b"$KopplingarMoved"  # ours to expunge, on a server without UIDPLUS


class _TokenRefused(MailboxAuthFailed):
    """The server refused an access token (worth one more try with a new one)."""


def body_shape(structure: Any) -> tuple[int, int]:
    """(leaf parts, depth) of a BODYSTRUCTURE as imapclient parses it.

    imapclient turns the top level into `BodyData` (a multipart has a list of
    parts first); what is nested in a message/rfc822 stays raw tuples (the
    parts of a multipart come first, then its subtype as bytes). Walked with
    a stack: a hostile message may nest deeper than Python recurses.
    """
    leaves, deepest = 0, 0
    stack: list[tuple[Any, int]] = [(structure, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, tuple | list) or not node:
            continue
        deepest = max(deepest, depth)
        head = node[0]
        if isinstance(head, list):
            stack.extend((child, depth + 1) for child in head)
        elif isinstance(head, tuple):
            children = itertools.takewhile(lambda item: isinstance(item, tuple | list), node)
            stack.extend((child, depth + 1) for child in children)
        elif (
            isinstance(head, bytes)
            and head.lower() == b"message"
            and len(node) > 8
            and isinstance(node[1], bytes)
            and node[1].lower() in (b"rfc822", b"global")
            and isinstance(node[8], tuple)
        ):
            stack.append((node[8], depth + 1))
        else:
            leaves += 1
    return leaves, deepest


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, imaplib.IMAP4.abort):
        text = str(exc)
        if "EOF" in text:
            return "the server closed the connection"
        return text.removeprefix("socket error: ")
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _response_text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text


# Response codes (RFC 5530) in a refused login that mean "not now" rather than "no".
_TEMPORARY_CODES = ("[UNAVAILABLE]", "[SERVERBUG]", "[LIMIT]", "[INUSE]")


class ImapMailbox:
    """One folder of one IMAP mailbox, over one connection at a time."""

    def __init__(
        self,
        config: ImapConfig,
        *,
        tokens: TokenProvider | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        ignore_capabilities: Collection[str] = (),
    ) -> None:
        config.check()
        if config.token_command is not None and tokens is None:
            tokens = TokenProvider(config.token_command)
        self.config = config
        self.account = config.account
        self.folder = config.folder
        self.tokens = tokens
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        # Tests (and servers with a broken extension) can have one treated as absent.
        self.ignored = frozenset(name.upper() for name in ignore_capabilities)
        self._client: Any = None
        self._capabilities: frozenset[str] = frozenset()
        self._uidvalidity = 0
        self._folders: set[str] = set()

    # -- connection ---------------------------------------------------------------

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._client is not None

    def open(self) -> None:
        """Connect, log in and select the folder; retry a failed connection with backoff."""
        self.close()
        retrying = Retrying(
            retry=retry_if_exception_type(MailboxUnavailable),
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff),  # backoff, 2 × backoff, 4 × ...
            sleep=self.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        retrying(self._open_once)

    def _log_retry(self, state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        exc = state.outcome.exception()
        assert isinstance(exc, MailboxUnavailable)
        log.warning(
            "%s; retry %d of %d in %g s",
            exc.message,
            state.attempt_number,
            self.retries,
            state.next_action.sleep,
        )

    def close(self) -> None:
        """Log out if still connected; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.socket().settimeout(min(LOGOUT_TIMEOUT, self.config.read_timeout))
            client.logout()
        except Exception:  # the connection may be gone already: nothing left to do
            _shutdown(client)

    def reconnect(self) -> None:
        self.close()
        self.open()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _shutdown(client)

    def _open_once(self) -> None:
        self._folders = set()
        try:
            self._connect()
            self._login()
            self._capabilities = self._server_capabilities() - self.ignored
            self._select()
        except MailboxError:
            self._drop()
            raise

    def _connect(self) -> None:
        config = self.config
        tls = config.security == "imaps"
        with self._failures("cannot connect"):
            self._client = IMAPClient(
                config.host,
                port=config.port,
                ssl=tls,
                ssl_context=self._ssl_context() if tls else None,
                timeout=SocketTimeout(connect=config.connect_timeout, read=config.read_timeout),
            )
        if config.security == "starttls":
            with self._failures("STARTTLS failed"):
                try:
                    self._client.starttls(self._ssl_context())
                except CapabilityError as exc:
                    raise MailboxConfigError(
                        f"IMAP {config.where} does not offer STARTTLS; use imaps"
                    ) from exc

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.config.ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.config.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise MailboxConfigError(
                    f"IMAP {self.config.where}: cannot load CA file {self.config.ca_file}: "
                    f"{_describe(exc, 0)}"
                ) from exc
        return context

    def _login(self) -> None:
        config = self.config
        if self.tokens is None:
            self._try_login("password")
            return
        if "AUTH=XOAUTH2" not in self._server_capabilities():
            raise MailboxConfigError(f"IMAP {config.where} does not offer XOAUTH2 login")
        try:
            self._try_login("token")
        except _TokenRefused:
            # The token may have expired early or been revoked: one more try with a fresh one,
            # on a fresh connection (some servers hang up after a failed AUTHENTICATE).
            self.tokens.invalidate()
            log.info("IMAP %s refused the access token; trying a new one", config.where)
            self._drop()
            self._connect()
            self._try_login("token")

    def _server_capabilities(self) -> frozenset[str]:
        with self._failures("cannot read capabilities"):
            raw = self._connection().capabilities()
        return frozenset(
            (c.decode("ascii", "replace") if isinstance(c, bytes) else str(c)).upper() for c in raw
        )

    def _try_login(self, kind: Literal["password", "token"]) -> None:
        config, client = self.config, self._connection()
        what = "log in" if kind == "password" else "log in with XOAUTH2"
        try:
            with self._failures(f"cannot {what}"):
                if kind == "token":
                    assert self.tokens is not None
                    token = self.tokens.token()
                    client.oauth2_login(config.username, token)
                    return
                password = config.password or ""
                if "LOGINDISABLED" in self._server_capabilities():
                    raise MailboxConfigError(
                        f"IMAP {config.where} refuses LOGIN on this connection "
                        "(it wants TLS first); use imaps or starttls"
                    )
                if password.isascii() and config.username.isascii():
                    client.login(config.username, password)
                else:  # LOGIN is ASCII only; SASL PLAIN carries UTF-8
                    client.plain_login(config.username, password)
        except LoginError as exc:
            text = _response_text(exc)
            if any(code in text.upper() for code in _TEMPORARY_CODES):
                self._drop()
                raise MailboxUnavailable(f"IMAP {config.where}: cannot {what} now: {text}") from exc
            refused = _TokenRefused if kind == "token" else MailboxAuthFailed
            raise refused(
                f"IMAP {config.where} refused the login of {config.username}"
                + (" with a fresh access token" if kind == "token" else "")
                + f": {text}"
            ) from exc

    def _select(self) -> None:
        config = self.config
        try:
            with self._failures(f"cannot open folder {config.folder}"):
                info = self._client.select_folder(config.folder)
        except MailboxUnavailable:
            raise
        except MailboxError as exc:
            if "NONEXISTENT" in exc.message.upper() or "DOESN'T EXIST" in exc.message.upper():
                raise MailboxConfigError(
                    f"IMAP {config.where}: folder {config.folder} does not exist"
                ) from exc
            raise
        if not info.get(b"READ-WRITE"):
            raise MailboxConfigError(
                f"IMAP {config.where}: folder {config.folder} is read-only for "
                f"{config.username}; messages could not be moved out of it"
            )
        self._uidvalidity = int(info[b"UIDVALIDITY"])

    @contextmanager
    def _failures(self, doing: str) -> Iterator[None]:
        """Turn whatever the socket, TLS or imaplib raise into a mailbox error."""
        where = self.config.where
        try:
            yield
        except (MailboxError, LoginError, CapabilityError):
            raise
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise MailboxConfigError(
                f"IMAP {where}: {doing}: the server's TLS certificate is not trusted "
                f"({exc.verify_message or exc.reason}); give the CA that signed it as ca_file"
            ) from exc
        except imaplib.IMAP4.abort as exc:  # before IMAP4.error: it is a subclass
            self._drop()
            raise MailboxUnavailable(
                f"IMAP {where}: {doing}: {_describe(exc, self.config.read_timeout)}"
            ) from exc
        except imaplib.IMAP4.error as exc:
            text = _response_text(exc)
            if "socket" in text.lower() or "closed" in text.lower():
                self._drop()
                raise MailboxUnavailable(f"IMAP {where}: {doing}: {text}") from exc
            # The server said NO or BAD; the connection itself is fine.
            raise MailboxError(f"IMAP {where}: {doing}: {text}") from exc
        except (OSError, EOFError, ValueError) as exc:
            # OSError covers socket errors, timeouts and TLS errors; reading from a socket
            # imaplib has already shut down raises ValueError("I/O operation on closed file").
            if isinstance(exc, ValueError) and "closed" not in str(exc):
                raise
            timeout = self.config.read_timeout if self._client else self.config.connect_timeout
            self._drop()
            raise MailboxUnavailable(f"IMAP {where}: {doing}: {_describe(exc, timeout)}") from exc

    def _connection(self) -> Any:
        if self._client is None:
            raise MailboxUnavailable(f"IMAP {self.config.where}: not connected")
        return self._client

    # -- the folder ---------------------------------------------------------------

    def capabilities(self) -> frozenset[str]:
        self._connection()
        return self._capabilities

    def uidvalidity(self) -> int:
        self._connection()
        return self._uidvalidity

    def uids(self) -> list[int]:
        client = self._connection()
        with self._failures(f"cannot list {self.folder}"):
            found = client.search(["UNDELETED"])
        return sorted(int(uid) for uid in found)

    def meta(self, uids: Sequence[int]) -> dict[int, MessageMeta]:
        """Size and MIME shape of each UID still there (a vanished UID is left out)."""
        client = self._connection()
        metas: dict[int, MessageMeta] = {}
        for start in range(0, len(uids), META_CHUNK):
            chunk = list(uids[start : start + META_CHUNK])
            with self._failures(f"cannot look at messages in {self.folder}"):
                response = client.fetch(chunk, ["RFC822.SIZE", "BODYSTRUCTURE"])
            for uid, data in response.items():
                size = data.get(b"RFC822.SIZE")
                if size is None:
                    continue
                parts, depth = body_shape(data.get(b"BODYSTRUCTURE"))
                metas[int(uid)] = MessageMeta(int(uid), int(size), parts, depth)
        return metas

    def fetch(self, uid: int) -> bytes:
        """The raw message as the server has it; does not set \\Seen."""
        return self._fetch_one(uid, "BODY.PEEK[]", b"BODY[]", "message")

    def fetch_header(self, uid: int) -> bytes:
        return self._fetch_one(uid, "BODY.PEEK[HEADER]", b"BODY[HEADER]", "header of")

    def _fetch_one(self, uid: int, item: str, key: bytes, what: str) -> bytes:
        client = self._connection()
        with self._failures(f"cannot fetch {what} UID {uid} from {self.folder}"):
            response = client.fetch([uid], [item])
        data = response.get(uid, {}).get(key)
        if not isinstance(data, bytes):
            raise MessageGone(f"IMAP {self.config.where}: UID {uid} is not in {self.folder}")
        return data

    def ensure_folder(self, name: str) -> None:
        """Create `name` (and subscribe to it) unless it exists."""
        client = self._connection()
        if name in self._folders:
            return
        with self._failures(f"cannot create folder {name}"):
            if not client.folder_exists(name):
                try:
                    client.create_folder(name)
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error as exc:
                    # Someone else (an overlapping run) may have created it just now.
                    if not client.folder_exists(name):
                        raise MailboxError(
                            f"IMAP {self.config.where}: cannot create folder {name}: "
                            f"{_response_text(exc)}"
                        ) from exc
                try:
                    client.subscribe_folder(name)
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error:
                    log.info("IMAP %s: could not subscribe to %s", self.config.where, name)
        self._folders.add(name)

    def move(self, uid: int, folder: str) -> None:
        """Move one message to `folder` (created if missing); never deletes anything else.

        MOVE where the server has it. Otherwise COPY, flag \\Deleted and
        expunge just that UID (UIDPLUS). A server without UIDPLUS can only
        expunge every \\Deleted message of the folder at once, so that happens
        only when all of them are ones we moved (they carry MOVED_KEYWORD); a
        message somebody else marked is never removed by us. Until then ours
        stay flagged, and `uids` no longer lists them.
        """
        self.ensure_folder(folder)
        client = self._connection()
        with self._failures(f"cannot move UID {uid} from {self.folder} to {folder}"):
            if not client.search(["UID", str(uid), "UNDELETED"]):
                raise MessageGone(f"IMAP {self.config.where}: UID {uid} is not in {self.folder}")
            if "MOVE" in self._capabilities:
                client.move([uid], folder)
                return
            client.copy([uid], folder)
            try:
                client.add_flags([uid], [b"\\Deleted", MOVED_KEYWORD], silent=True)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:  # no keywords allowed in this folder
                client.add_flags([uid], [b"\\Deleted"], silent=True)
            if "UIDPLUS" in self._capabilities:
                client.uid_expunge([uid])
            elif not client.search(["DELETED", "NOT", "KEYWORD", MOVED_KEYWORD.decode()]):
                client.expunge()
            else:
                log.info(
                    "IMAP %s: messages in %s are flagged \\Deleted by someone else and the "
                    "server has no UIDPLUS; UID %d stays there flagged until they are gone",
                    self.config.where,
                    self.folder,
                    uid,
                )

    def take_back(self, folder: str, sha256: str, size: int, to_folder: str) -> bool:
        """Move the message with these bytes from `folder` to `to_folder`; False if not there.

        Over a connection of its own to `folder`, so this one stays where it
        is. Only messages of the right size are fetched, newest first: a
        message taken back was set aside recently.
        """
        other = ImapMailbox(
            dataclasses.replace(self.config, folder=folder),
            tokens=self.tokens,
            retries=self.retries,
            backoff=self.backoff,
            sleep=self.sleep,
            ignore_capabilities=self.ignored,
        )
        with other:
            uids = other.uids()
            sizes = other.meta(uids)
            for uid in reversed(uids):
                meta = sizes.get(uid)
                if meta is None or meta.size != size:
                    continue
                if hashlib.sha256(other.fetch(uid)).hexdigest() == sha256:
                    other.move(uid, to_folder)
                    return True
        return False

    def wait_for_mail(self, seconds: float) -> bool:
        """IDLE up to `seconds`; True as soon as the server reports new mail.

        Without IDLE on the server this just sleeps and returns False; the
        caller's periodic pass finds the mail.
        """
        client = self._connection()
        if "IDLE" not in self._capabilities:
            self.sleep(seconds)
            return False
        deadline = time.monotonic() + seconds
        # Mail that came while we were busy shows up as EXISTS on the next command.
        self._forget_untagged()
        with self._failures("cannot poll for new mail"):
            _, pending = client.noop()
        if _has_new_mail(pending):
            return True
        while (left := deadline - time.monotonic()) > 0:
            if self._idle(client, min(left, IDLE_SLICE)):
                return True
        return False

    def _idle(self, client: Any, seconds: float) -> bool:
        end = time.monotonic() + seconds
        seen: list[Any] = []
        with self._failures("connection lost while waiting for new mail"):
            client.idle()
            while (left := end - time.monotonic()) > 0:
                responses = client.idle_check(timeout=left)
                if not responses:
                    # A timeout, or the connection is gone (imapclient swallows EOF
                    # here): idle_done finds out which.
                    break
                seen.extend(responses)
                if _has_new_mail(responses):
                    break
            _, after = client.idle_done()
        return _has_new_mail(seen) or _has_new_mail(after)

    def _forget_untagged(self) -> None:
        # imaplib keeps every untagged EXISTS/EXPUNGE/FETCH it has not been asked for;
        # a watcher that runs for weeks would collect them forever.
        pending = getattr(self._client, "_imap", None)
        responses = getattr(pending, "untagged_responses", None)
        if isinstance(responses, dict):
            for key in ("EXISTS", "RECENT", "EXPUNGE", "FETCH", "OK"):
                responses.pop(key, None)


def _has_new_mail(responses: Sequence[Any]) -> bool:
    return any(
        isinstance(item, tuple) and len(item) >= 2 and item[1] == b"EXISTS" for item in responses
    )


def _shutdown(client: Any) -> None:
    with contextlib.suppress(Exception):  # already closed: nothing left to release
        client.shutdown()
