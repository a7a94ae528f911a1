"""Debian's Dovecot (2.3) on loopback ports, for tests and `kopplingar bench mailbox`.

Everything lives under one root directory: the configuration, the mail
(Maildir), the passwd file, the certificate, the logs and the runtime
sockets. The server listens on 127.0.0.1 only, on two free ports: IMAPS, and
plain IMAP offering STARTTLS (Dovecot counts loopback connections as secure,
so a plain-text login works there too, which is what the "plain on loopback"
case needs).

Facts this module is built on, checked with Dovecot 2.3.19 running as root:

* Dovecot will not run mail processes as root. Mail belongs to the `dovecot`
  user, and the mail processes chroot into `root/mail` before dropping to that
  user, so the mail is reachable even when a parent directory is private
  (pytest's temporary directories are 0700 root). The auth process likewise
  chroots into `root/auth`, where the passwd files are (one per user).
* The auth process delays every login from an address after a failed one
  (2 s, then 4, 8, 15: "auth penalty"). Tests fail logins on purpose from
  127.0.0.1, so the penalty's socket is switched off (`mode = 0`).
* For XOAUTH2 the `oauth2` passdb asks an introspection endpoint (RFC 7662)
  about each token. `enable_xoauth2()` without a URL runs a small one here
  that knows the tokens handed out by `grant_token`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import pwd
import secrets
import ssl
import subprocess
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs

from imapclient import IMAPClient
from imapclient.imap_utf7 import encode as utf7_encode

from devkit.localmail.certs import make_certificate
from forms import KopplingarError
from intake.mail import ImapConfig, Security
from kopplingar.serving import free_port

HOST = "127.0.0.1"
DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
MAIL_USER = "dovecot"  # owns the mail; Dovecot's own unprivileged user
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# Unix sockets live in base_dir; their paths must fit sockaddr_un (108 bytes).
MAX_BASE_DIR = 70


class DovecotError(KopplingarError):
    """The local Dovecot could not be started or asked to do something."""


@dataclass(frozen=True)
class StoredMessage:
    uid: int
    flags: frozenset[str]  # e.g. {"\\Seen"}
    raw: bytes


def _listening(ports: set[int]) -> bool:
    """True when every port has a listening socket (read from /proc, not by connecting).

    A test connection would make Dovecot start a login process for it, and
    one of those still starting up holds up a quick stop() for seconds.
    """
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), Path(table).open() as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    listening.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports <= listening


def _check_name(username: str) -> None:
    if (
        not username
        or username.startswith(".")
        or any(ch in username for ch in ":/\\%\n\r\t\0 ")
        or not username.isprintable()
    ):
        raise DovecotError(f"not a usable local mail user name: {username!r}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


class _Introspection:
    """An RFC 7662 token introspection endpoint on a loopback port, in a thread."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}  # token -> username
        self.asked = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
                token = (form.get("token") or [""])[0]
                with owner.lock:
                    owner.asked += 1
                    user = owner.tokens.get(token)
                # Dovecot 2.3 reads a JSON boolean `true` as "true" for active_value.
                answer = {"active": True, "username": user} if user else {"active": False}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, _format: str, *_args: object) -> None:
                return None  # the tests' output is no place for an access log

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}/introspect"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="dovecot-introspection", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class LocalDovecot:
    """A Dovecot of our own under `root`; `start` it, add users, put mail in, `stop` it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.host = HOST
        self.imaps_port = 0
        self.imap_port = 0  # plain IMAP with STARTTLS
        self.conf = self.root / "dovecot.conf"
        self.base_dir = self.root / "run"
        self.mail_dir = self.root / "mail"
        self.auth_dir = self.root / "auth"
        self.log_file = self.root / "log" / "dovecot.log"
        self._console = self.root / "log" / "console.log"
        self._cert = make_certificate(self.root / "certs")
        self.ca_file = self._cert.ca_file
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], LocalDovecot] | None = None
        self._introspection_url: str | None = None
        self._introspection: _Introspection | None = None
        try:
            self._mail_uid = pwd.getpwnam(MAIL_USER).pw_uid
            self._mail_gid = pwd.getpwnam(MAIL_USER).pw_gid
            pwd.getpwnam("dovenull")
        except KeyError as exc:
            raise DovecotError(
                f"user {exc.args[0]} is missing: install Debian's dovecot-imapd"
            ) from exc

    # -- life cycle -------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Write the configuration, start `dovecot -F` and wait until both ports answer."""
        if self.running:
            return
        if not DOVECOT.exists() or not DOVEADM.exists():
            raise DovecotError(f"{DOVECOT} is missing: install Debian's dovecot-imapd")
        if os.geteuid() != 0:
            raise DovecotError("the local Dovecot must be started as root (it drops privileges)")
        if len(str(self.base_dir)) > MAX_BASE_DIR:
            raise DovecotError(
                f"{self.root} is too long a path for Dovecot's sockets; use a shorter root"
            )
        self._prepare()
        for _attempt in range(3):
            # A port picked as free may be taken before Dovecot binds it: pick again.
            if not (self.imaps_port and self.imap_port) or _attempt:
                self.imaps_port, self.imap_port = free_port(), free_port()
            self._write_config()
            if self._launch():
                return
        raise DovecotError(f"Dovecot did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if process is not None:
            _stop(process)
        if self._introspection is not None:
            self._introspection.close()
            self._introspection = None

    def _prepare(self) -> None:
        for directory in (self.root, self.root / "log", self.root / "state"):
            directory.mkdir(parents=True, exist_ok=True)
        self.mail_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.mail_dir, self._mail_uid, self._mail_gid)
        for directory in (self.auth_dir, self.auth_dir / "users"):
            directory.mkdir(exist_ok=True)
            os.chown(directory, 0, self._mail_gid)
            directory.chmod(0o750)

    def _launch(self) -> bool:
        console = self._console.open("ab")
        try:
            process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        finally:
            console.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _listening({self.imaps_port, self.imap_port}):
                self._process = process
                # If the owner forgets stop() (or the test run is interrupted), the
                # server goes with the interpreter instead of outliving it.
                self._finalizer = weakref.finalize(self, _stop, process)
                return True
            time.sleep(0.05)
        _stop(process)
        raise DovecotError(
            f"Dovecot did not answer on ports {self.imaps_port} and {self.imap_port} "
            f"within {START_TIMEOUT:g} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for path in (self._console, self.log_file):
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text.strip() or "(no log)"

    def _write_config(self) -> None:
        mechanisms = "plain login"
        oauth = ""
        if self._introspection_url is not None:
            mechanisms += " xoauth2 oauthbearer"
            ext = self.root / "oauth2.conf.ext"
            ext.write_text(
                "introspection_mode = post\n"
                f"introspection_url = {self._introspection_url}\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
                "timeout_msecs = 5000\n"
            )
            oauth = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {ext}\n}}\n"
            )
        instance = "kopplingar-" + hashlib.sha256(str(self.root).encode()).hexdigest()[:8]
        self.conf.write_text(
            f"""# Written by devkit.localmail.dovecot; rewritten on every start.
instance_name = {instance}
base_dir = {self.base_dir}
state_dir = {self.root / "state"}
log_path = {self.log_file}
info_log_path = {self.log_file}
listen = {HOST}
protocols = imap
ssl = yes
ssl_cert = <{self._cert.cert_file}
ssl_key = <{self._cert.key_file}
disable_plaintext_auth = yes
auth_mechanisms = {mechanisms}
auth_verbose = yes
auth_failure_delay = 0
{oauth}passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u /users/%u
}}
userdb {{
  driver = static
  args = uid={self._mail_uid} gid={self._mail_gid} home=/%u allow_all_users=yes
}}
first_valid_uid = {self._mail_uid}
first_valid_gid = {self._mail_gid}
mail_chroot = {self.mail_dir}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service auth {{
  chroot = {self.auth_dir}
}}
service anvil {{
  # No socket, no auth penalty: tests fail logins from 127.0.0.1 on purpose.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        )

    # -- users and mail ---------------------------------------------------------------

    def add_user(self, username: str, password: str) -> None:
        """Add a user; it can log in at once."""
        _check_name(username)
        home = self.mail_dir / username
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, self._mail_uid, self._mail_gid)
        self._passwords[username] = password
        # One passwd file per user: Dovecot looks at a passwd file for changes at most
        # once a second, but a file it has never read is read right away.
        # PLAIN.B64 keeps any character of a password out of the ':'-separated format.
        encoded = base64.b64encode(password.encode()).decode()
        target = self.auth_dir / "users" / username
        temporary = target.with_name(f".{username}.new")
        temporary.write_text(f"{username}:{{PLAIN.B64}}{encoded}\n")
        os.chown(temporary, 0, self._mail_gid)
        temporary.chmod(0o640)
        temporary.replace(target)

    def config(
        self,
        username: str,
        password: str,
        *,
        security: Security = "imaps",
        folder: str = "INBOX",
    ) -> ImapConfig:
        """How `intake.mail.imap.ImapMailbox` reaches this server as `username`."""
        return ImapConfig(
            host=self.host,
            port=self.imaps_port if security == "imaps" else self.imap_port,
            username=username,
            security=security,
            password=password,
            ca_file=self.ca_file,
            allow_plain_on_loopback=security == "plain",
            connect_timeout=5.0,
            read_timeout=30.0,
            folder=folder,
        )

    def oauth_config(
        self, username: str, token_command: Sequence[str], *, folder: str = "INBOX"
    ) -> ImapConfig:
        """IMAPS with XOAUTH2: the token comes from `token_command`."""
        return ImapConfig(
            host=self.host,
            port=self.imaps_port,
            username=username,
            token_command=tuple(token_command),
            ca_file=self.ca_file,
            connect_timeout=5.0,
            read_timeout=30.0,
            folder=folder,
        )

    def _doveadm(self, *args: str, stdin: bytes | None = None) -> None:
        done = subprocess.run(
            [str(DOVEADM), "-c", str(self.conf), *args],
            input=stdin,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace').strip()}"
            )

    def deliver(self, username: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into a folder (created if missing), as a delivery agent would.

        Dovecot stores lines with LF and serves them with CRLF, so what IMAP
        returns equals `raw` when `raw` uses CRLF line ends.
        """
        self._require_running()
        if folder != "INBOX":
            with contextlib.suppress(DovecotError):  # it exists already
                self._doveadm("mailbox", "create", "-u", username, folder)
        self._doveadm("save", "-u", username, "-m", folder, stdin=raw)

    def stored_messages(self, username: str, folder: str = "INBOX") -> list[StoredMessage]:
        """What is in a folder now, by UID, with flags (read without setting \\Seen)."""
        self._require_running()
        if username not in self._passwords:
            raise DovecotError(f"{username} was not added with add_user")
        context = ssl.create_default_context(cafile=self.ca_file)
        client = IMAPClient(self.host, self.imaps_port, ssl_context=context, timeout=30)
        try:
            client.login(username, self._passwords[username])
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
        finally:
            with contextlib.suppress(Exception):
                client.logout()
        return [
            StoredMessage(
                uid=int(uid),
                flags=frozenset(f.decode() if isinstance(f, bytes) else f for f in item[b"FLAGS"]),
                raw=item[b"BODY[]"],
            )
            for uid, item in sorted(data.items())
        ]

    def folder_messages(self, username: str, folder: str) -> list[bytes]:
        """The raw messages now in a folder, in UID order."""
        return [message.raw for message in self.stored_messages(username, folder)]

    def reset_uidvalidity(self, username: str, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY and every message in it a new UID.

        What a server does after a restore or a mailbox rebuild. Done the way
        Dovecot would: rewrite the folder's `dovecot-uidlist` (under its lock)
        with a new UIDVALIDITY and UIDs above every old one, and drop the
        indexes so they are rebuilt from it. Sessions that have the folder open
        are disconnected by Dovecot on their next command.
        """
        maildir = self._maildir(username, folder)
        if not maildir.is_dir():
            raise DovecotError(f"{username} has no folder {folder}")
        uidlist = maildir / "dovecot-uidlist"
        lock = maildir / "dovecot-uidlist.lock"
        with self._uidlist_lock(lock):
            header = ["3", "V0", "N1"]
            entries: list[tuple[int, str]] = []  # (old UID, the rest of the line)
            if uidlist.exists():
                first_line, *lines = uidlist.read_text().splitlines()
                header = first_line.split()
                for line in lines:
                    uid, _, rest = line.partition(" ")
                    entries.append((int(uid), rest))
            fields = {item[0]: item[1:] for item in header[1:]}
            validity, next_uid = int(fields.get("V", "0")), int(fields.get("N", "1"))
            first = max([next_uid, *(uid + 1 for uid, _ in entries)])
            present = [
                path.name.split(":2,")[0]
                for sub in ("cur", "new")
                for path in sorted((maildir / sub).iterdir())
            ]
            # Keep the old order; drop lines of files expunged since; add files
            # delivered but not yet seen by Dovecot at the end.
            entries = sorted(e for e in entries if e[1].partition(":")[2] in set(present))
            listed = {rest.partition(":")[2] for _, rest in entries}
            entries += [(0, f":{base}") for base in present if base not in listed]
            fields["V"], fields["N"] = str(validity + 1), str(first + len(entries))
            lines = [" ".join([header[0], *(key + value for key, value in fields.items())])]
            lines += [f"{first + n} {rest}" for n, (_, rest) in enumerate(entries)]
            temporary = maildir / "dovecot-uidlist.kopplingar"
            temporary.write_text("\n".join(lines) + "\n")
            os.chown(temporary, self._mail_uid, self._mail_gid)
            temporary.chmod(0o600)
            temporary.replace(uidlist)
            for index in maildir.glob("dovecot.index*"):
                index.unlink()
            for index in (self.mail_dir / username / "Maildir").glob("dovecot.list.index*"):
                index.unlink()

    @contextlib.contextmanager
    def _uidlist_lock(self, lock: Path) -> Iterator[None]:
        deadline = time.monotonic() + 10
        while True:
            try:
                descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise DovecotError(f"{lock} is held by someone else") from None
                time.sleep(0.02)
        os.close(descriptor)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)

    def _maildir(self, username: str, folder: str) -> Path:
        base = self.mail_dir / username / "Maildir"
        if folder.upper() == "INBOX":
            return base
        # Maildir++: one directory per folder, hierarchy joined with dots, names in mUTF-7.
        encoded = str(utf7_encode(folder).decode("ascii"))
        return base / ("." + encoded.replace("/", "."))

    def _require_running(self) -> None:
        if not self.running:
            raise DovecotError("the local Dovecot is not running; call start() first")

    # -- XOAUTH2 ----------------------------------------------------------------------

    def enable_xoauth2(self, introspection_url: str | None = None) -> None:
        """Accept XOAUTH2 logins checked at `introspection_url` (by default one of ours).

        Restarts the server (on the same ports) if it is running.
        """
        if introspection_url is None:
            if self._introspection is None:
                self._introspection = _Introspection()
            introspection_url = self._introspection.url
        self._introspection_url = introspection_url
        if self.running:
            process, self._process = self._process, None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            assert process is not None
            _stop(process)
            self._write_config()
            if not self._launch():
                raise DovecotError(f"Dovecot did not restart:\n{self.log_tail()}")

    def grant_token(self, username: str, token: str | None = None) -> str:
        """A token our introspection endpoint calls valid for `username`."""
        if self._introspection is None:
            raise DovecotError("call enable_xoauth2() without a URL first")
        token = token or secrets.token_urlsafe(24)
        with self._introspection.lock:
            self._introspection.tokens[token] = username
        return token

    def revoke_token(self, token: str) -> None:
        if self._introspection is not None:
            with self._introspection.lock:
                self._introspection.tokens.pop(token, None)

    @property
    def introspections(self) -> int:
        """How often Dovecot has asked our endpoint about a token."""
        if self._introspection is None:
            return 0
        with self._introspection.lock:
            return self._introspection.asked
