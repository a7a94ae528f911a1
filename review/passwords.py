"""The password policy: long enough, not common, not guessable, not the user's own name.

Owns `check_password` and `WeakPassword`. The rules follow NIST SP 800-63B
and OWASP rather than habit: at least 12 characters (at most 256), and no
composition rules at all (no "a digit and a capital letter"), because such
rules push people to `Password1!` and turn nobody's passphrase into
something stronger. What is refused instead is what an attacker tries first:

* a password whose core (lower-cased, digits and punctuation stripped at
  both ends) is in zxcvbn's list of the 30,000 most common passwords from
  real breaches, so `Password1234` and `Qwerty123456` are refused however
  many digits they carry;
* a password zxcvbn scores below 3 (fewer than about 10^8 guesses: keyboard
  runs, repeats, sequences, dates, dictionary words with common
  substitutions); only the first 100 characters are scored, since zxcvbn's
  matching grows quadratically and a longer password is not weaker than
  its first 100 characters;
* a password containing the user's own name or e-mail address, the first
  words anyone who knows them tries.

A passphrase of a few ordinary words, Swedish or not, passes. Each refusal
says why, in Swedish. zxcvbn ships its lists inside the package, so nothing
is looked up over the network and no password leaves the process.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from review.errors import AuthError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MIN_SCORE = 3  # zxcvbn: "safely unguessable", about 10^8 guesses or more
_SCORED_LENGTH = 100
_MIN_PERSONAL_PART = 3  # shorter name parts ("Bo") would refuse half the dictionary
_STRIPPED = string.digits + string.punctuation + string.whitespace

# What zxcvbn found, in the words of the refusal; the weakest part of the password decides.
_PATTERN_REASONS = {
    "spatial": "det följer tangenterna på tangentbordet (som qwerty)",
    "repeat": "det upprepar samma tecken eller teckenföljd",
    "sequence": "det är en följd som abcd eller 1234",
    "date": "det bygger på ett datum eller årtal",
    "regex": "det bygger på ett årtal",
    "dictionary": "det bygger på ett vanligt ord, namn eller lösenord",
}
_ADVICE = "Välj några vanliga ord i en följd som bara du känner till."


class WeakPassword(AuthError):  # noqa: N818
    """The password does not meet the policy (see the module docstring)."""


def normalized(password: str) -> str:
    """NFC, so the same password typed on another keyboard or system is the same string."""
    return unicodedata.normalize("NFC", password)


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def _core(password: str) -> str:
    return password.lower().strip(_STRIPPED)


def _personal_parts(email: str | None, name: str | None) -> list[str]:
    parts: list[str] = []
    if email:
        local = email.strip().lower().partition("@")[0]
        parts.append(local)
        parts.extend(re.split(r"[._+\-]+", local))
    if name:
        lowered = name.strip().lower()
        parts.append(lowered)
        parts.extend(lowered.split())
    return [p for p in dict.fromkeys(parts) if len(p) >= _MIN_PERSONAL_PART]


def _weakness(password: str, personal: list[str]) -> str | None:
    result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=personal, max_length=_SCORED_LENGTH)
    if int(result["score"]) >= MIN_SCORE:
        return None
    # The match that costs an attacker fewest guesses is the reason worth naming.
    sequence = [m for m in result["sequence"] if m["pattern"] in _PATTERN_REASONS]
    if not sequence:
        return "det är för kort eller för enkelt för att stå emot gissningar"
    weakest = min(sequence, key=lambda m: float(m["guesses"]))
    return _PATTERN_REASONS[str(weakest["pattern"])]


def check_password(password: str, *, email: str | None = None, name: str | None = None) -> None:
    """Raise WeakPassword with a Swedish message saying why, if the policy is not met.

    `email` and `name` are the account's, when known: a password containing
    either is refused.
    """
    password = normalized(password)
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. from undecodable stdin
        raise WeakPassword("Lösenordet innehåller tecken som inte går att använda.") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"Lösenordet får ha högst {MAX_PASSWORD_LENGTH} tecken.")
    if _core(password) in _common_passwords():
        raise WeakPassword(
            "Lösenordet är ett av de vanligaste lösenorden i läckta lösenordslistor "
            f"(siffror och tecken i början eller slutet hjälper inte). {_ADVICE}"
        )
    personal = _personal_parts(email, name)
    lowered = password.lower()
    if any(part in lowered for part in personal):
        raise WeakPassword("Lösenordet får inte innehålla ditt namn eller din e-postadress.")
    reason = _weakness(password, personal)
    if reason is not None:
        raise WeakPassword(f"Lösenordet är för lätt att gissa: {reason}. {_ADVICE}")
