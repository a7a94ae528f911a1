"""Audit events as Swedish sentences (`review.audit_text`), and that no kind goes untranslated.

`test_every_kind_written_has_a_sentence` reads the product's source: every
kind passed to `record_event`, `record_security_event` or a linkage
`Change` (directly, through a module constant, or through a helper's
parameter such as `decide._decide(..., action, ...)`) must have a sentence
of its own, so a new kind fails here until it has one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import AuditEvent
from review.audit_text import (
    GROUPS,
    Person,
    Ref,
    describe,
    described_kinds,
    kind_group,
    kind_groups,
    kind_label,
    value_text,
)
from review.four_eyes import code_label
from tests.review.audit_portal_cases import PORTAL_CASES, PORTAL_PEOPLE

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "forms",
    "registry",
    "render",
    "workqueue",
    "intake",
    "review",
    "portal",
    "samples",
    "kopplingar",
)
ANNA, OLLE = "anna@byra.example", "olle@byra.example"
PEOPLE = {ANNA: Person("Anna Berg", 1), OLLE: Person("Olle Kollega", 2), **PORTAL_PEOPLE}
CONNECTION = {
    "client": "556677-8899",
    "client_name": "Bergs Bokföring AB",
    "firm": "559900-1122",
    "firm_name": "Hallands Revisionsbyrå AB",
    "role": "audit",
    "since": "2026-12-04",
    "until": None,
}


def event(action: str, subject: str = "submission:5", actor: str = ANNA, **data: Any) -> AuditEvent:
    return AuditEvent(actor=actor, action=action, subject=subject, detail=data.pop("detail", ""),
                      before=data.pop("before", None), after=data.pop("after", None))  # fmt: skip


# (event, the sentence) for every kind the product writes, and a few variants.
CASES: list[tuple[AuditEvent, str]] = [
    (
        event(
            "submission.approved",
            after={
                "status": "applied",
                "kind": "dual",
                "already_done": False,
                "override_reason": None,
                "overridden_findings": [],
                "changes": [
                    "Hallands Revisionsbyrå AB (revisionsbyrå) kopplas till Bergs Bokföring AB "
                    "(556677-8899) från 2026-12-04."
                ],
            },
        ),
        "Anna Berg godkände ärende 5: Hallands Revisionsbyrå AB (revisionsbyrå) kopplas till "
        "Bergs Bokföring AB (556677-8899) från 2026-12-04.",
    ),
    (
        event(
            "submission.approved",
            actor=OLLE,
            after={
                "status": "applied",
                "changes": [],
                "already_done": True,
                "override_reason": "Kontrollerat mot bilden.",
                "overridden_findings": ["signature.missing"],
                "override_requested_by": ANNA,
                "override_confirmed_by": OLLE,
            },
        ),
        "Olle Kollega bekräftade undantaget som Anna Berg begärde och godkände ärende 5; registret "
        "var redan som blanketten begär, inget behövde ändras. Godkänt trots fynd (",
    ),
    (
        event(
            "submission.field_corrected",
            before={"field": "client_orgnr", "value": "5566778890"},
            after={"field": "client_orgnr", "value": "556677-8899"},
        ),
        "Anna Berg rättade klientens organisationsnummer i ärende 5 från ”5566778890” till "
        "”556677-8899”.",
    ),
    (
        event(
            "submission.field_corrected",
            before={"field": "new_firm_role", "value": "accounting"},
            after={"field": "new_firm_role", "value": "audit"},
        ),
        "Anna Berg rättade den nya byråns typ av byrå i ärende 5 från ”Redovisningsbyrå” till "
        "”Revisionsbyrå”.",
    ),
    (
        event("submission.field_confirmed", after={"field": "after", "value": "takeover"}),
        "Anna Berg bekräftade valet efter bortkopplingen i ärende 5: ”Företaget tar över "
        "abonnemanget och betalningsansvaret”.",
    ),
    (
        event(
            "submission.rejected",
            after={
                "status": "rejected",
                "reason_code": "signature_missing",
                "reason": "En underskrift saknas.",
            },
        ),
        "Anna Berg avvisade ärende 5: En underskrift saknas.",
    ),
    (
        event(
            "submission.keyed",
            after={
                "kind": "disconnect",
                "values": {"a": "1", "b": "2"},
                "signatures_seen": ["client"],
            },
        ),
        "Anna Berg skrev in ärende 5 för hand som bortkoppling (2 fält ifyllda).",
    ),
    (
        event("submission.joined", after={"joined": 7, "pages": 3}),
        "Anna Berg lade sidorna från ärende 7 till ärende 5 (nu 3 sidor); ärende 7 stängdes.",
    ),
    (
        event("submission.split", after={"new_submission": 9}),
        "Anna Berg delade ärende 5: ärende 9 skapades för en blankett till på samma sidor.",
    ),
    (
        event("submission.duplicate_closed", after={"status": "rejected", "duplicate_of": 3}),
        "Anna Berg stängde ärende 5 som dubblett av ärende 3.",
    ),
    (
        event(
            "submission.info_requested",
            before={"status": "queued"},
            after={
                "status": "awaiting_customer",
                "reason_code": "signature",
                "party": "client",
                "reason": "Klientens underskrift saknas.",
                "note": None,
                "to": "kund@exempel.se",
            },
        ),
        "Anna Berg bad kunden (kund@exempel.se) om en komplettering av ärende 5: Klientens "
        "underskrift saknas.",
    ),
    (
        event(
            "submission.info_reminded",
            actor="reminders",
            before={"reminders": 0},
            after={"reminders": 1, "mailed": False},
        ),
        "Systemet påminde kunden om kompletteringen av ärende 5 (inget mejl kunde skickas).",
    ),
    (
        event(
            "submission.customer_replied",
            actor="kund@exempel.se",
            after={
                "status": "queued",
                "message": "M-14",
                "matched_by": "thread",
                "joined": [8],
                "pages": 1,
            },
        ),
        "Kunden (kund@exempel.se) kompletterade ärende 5 med meddelande M-14, hittat genom ett "
        "svar på vårt mejl (1 sida till); ärendet är tillbaka i kön.",
    ),
    (
        event(
            "submission.info_withdrawn",
            before={"status": "awaiting_customer"},
            after={"status": "queued"},
        ),
        "Anna Berg tog tillbaka ärende 5 till kön utan att vänta på kundens komplettering.",
    ),
    (
        event(
            "submission.rejected",
            actor="reminders",
            after={
                "status": "rejected",
                "reason_code": "no_reply",
                "reason": "Ingen komplettering inkom.",
                "mailed": True,
            },
        ),
        "Systemet avvisade ärende 5: Ingen komplettering inkom.",
    ),
    (
        event(
            "submission.override_requested",
            after={
                "status": "queued",
                "override_reason": "Syns på bilden",
                "codes": ["signature.missing", "signature.missing"],
            },
        ),
        "Anna Berg begärde undantag för ärende 5 trots fynd (",
    ),
    (
        event(
            "submission.override_declined",
            actor=OLLE,
            before={"override_reason": "x", "requested_by": ANNA},
            after={"status": "queued", "reason": "Underskriften saknas", "declined_by": OLLE},
        ),
        "Olle Kollega avböjde undantaget som Anna Berg begärde för ärende 5: "
        "”Underskriften saknas”.",
    ),
    (
        event(
            "submission.override_withdrawn",
            actor=OLLE,
            before={"override_reason": "x", "requested_by": ANNA},
            after={"reason": "Ett fält rättades efter begäran."},
        ),
        "Olle Kollega drog tillbaka undantaget som Anna Berg begärde för ärende 5: Ett fält "
        "rättades efter begäran.",
    ),
    (
        event(
            "four_eyes.rule_changed",
            subject="finding:signature.missing",
            before={"required": False},
            after={"required": True},
        ),
        "Anna Berg slog på fyra ögon för ”",
    ),
    (
        event(
            "form.issued",
            actor="web",
            subject="form:ABCDEFGHJK",
            after={
                "kind": "dual",
                "version": "2026.1",
                "source": "web",
                "values": {"client_name": "Bergs Bokföring AB", "client_orgnr": "556677-8899"},
            },
        ),
        "En kund på webbplatsen skapade blankett ABCD-EFGH-JK (dubbelsammankoppling) för "
        "Bergs Bokföring AB.",
    ),
    (
        event(
            "registry.imported",
            actor="import",
            subject="registry",
            after={"companies": 12, "subscriptions": 1, "people": 0},
            detail="registry.json",
        ),
        "Systemet importerade 12 företag och 1 abonnemang till registret från registry.json.",
    ),
    (
        event(
            "connection.created",
            subject="connection:4",
            after=CONNECTION,
            detail="submission 5: Hallands Revisionsbyrå AB kopplas till ...",
        ),
        "Anna Berg kopplade Hallands Revisionsbyrå AB till Bergs Bokföring AB som revisionsbyrå "
        "från 2026-12-04 (ärende 5).",
    ),
    (
        event(
            "connection.ended",
            subject="connection:4",
            before=CONNECTION,
            after=CONNECTION | {"role": "accounting", "until": "2026-12-31"},
            detail="submission 6: ...",
        ),
        "Anna Berg kopplade bort Hallands Revisionsbyrå AB från Bergs Bokföring AB som "
        "redovisningsbyrå den 2026-12-31 (ärende 6).",
    ),
    (
        event(
            "payer.changed",
            subject="subscription:12345678",
            before={
                "subscription": "12345678",
                "payer": "559900-1122",
                "payer_name": "Hallands Revisionsbyrå AB",
                "valid_from": None,
            },
            after={
                "subscription": "12345678",
                "payer": "556677-8899",
                "payer_name": "Bergs Bokföring AB",
                "valid_from": "2027-01-01",
            },
            detail="submission 6: ...",
        ),
        "Anna Berg ändrade betalaren av abonnemang 12345678: Bergs Bokföring AB betalar från "
        "2027-01-01 i stället för Hallands Revisionsbyrå AB (ärende 6).",
    ),
    (event("payer.changed", subject="payer:1"), "Anna Berg ändrade betalaren av ett abonnemang."),
    (
        event(
            "mail.released",
            subject="inbound_message:12",
            before={"state": "quarantined", "attempts": 3},
            after={"state": "received", "attempts": 0},
        ),
        "Anna Berg släppte meddelande M-12 ur karantänen för ett nytt försök.",
    ),
    (
        event("mail.moved_back", actor="mailbox", subject="inbound_message:12"),
        "Posthanteringen prövar meddelande M-12 en gång till: det flyttades tillbaka till "
        "inkorgen för hand.",
    ),
    (
        event(
            "outbox.resent",
            subject="outbound_mail:4",
            before={"state": "failed"},
            after={"state": "pending"},
        ),
        "Anna Berg skickade mejl U-4 igen.",
    ),
    (
        event("outbox.sent_anyway", subject="outbound_mail:4"),
        "Anna Berg skickade mejl U-4 trots spärren för automatiska svar.",
    ),
    (
        event("security.login_succeeded", subject=ANNA, detail="från 10.0.0.1"),
        "Anna Berg loggade in från 10.0.0.1.",
    ),
    (
        event(
            "security.login_failed",
            actor="203.0.113.5",
            subject=OLLE,
            detail="fel lösenord; okänd webbläsare",
        ),
        "Misslyckad inloggning som Olle Kollega från 203.0.113.5: fel lösenord; okänd webbläsare.",
    ),
    (
        event(
            "security.login_failed",
            actor="okänd adress",
            subject="vem@annan.example",
            detail="ingen sådan granskare",
        ),
        "Misslyckad inloggning som vem@annan.example från okänd adress: ingen sådan granskare.",
    ),
    (
        event(
            "security.login_throttled",
            actor="203.0.113.5",
            subject=OLLE,
            detail="adressen spärrad i 30 s efter 5 misslyckade försök",
        ),
        "Inloggningen som Olle Kollega spärrades tillfälligt: adressen spärrad i 30 s efter 5 "
        "misslyckade försök (senast från 203.0.113.5).",
    ),
    (
        event(
            "security.device_untrusted",
            actor="203.0.113.5",
            subject=OLLE,
            detail="10 misslyckade försök från webbläsaren",
        ),
        "En webbläsare är inte längre betrodd för Olle Kollega: 10 misslyckade försök från "
        "webbläsaren.",
    ),
    (event("security.logout", subject=ANNA), "Anna Berg loggade ut."),
    (
        event("security.reviewer_added", actor="operator", subject=OLLE, detail="roll: reviewer"),
        "Driften lade till Olle Kollega som granskare.",
    ),
    (
        event("security.reviewer_added", subject=OLLE, detail="roll: Administratör"),
        "Anna Berg lade till Olle Kollega som administratör.",
    ),
    (event("security.reviewer_disabled", subject=OLLE), "Anna Berg inaktiverade Olle Kollega."),
    (event("security.reviewer_enabled", subject=OLLE), "Anna Berg aktiverade Olle Kollega."),
    (
        event(
            "security.password_changed",
            subject=ANNA,
            detail="eget byte; 1 andra sessioner avslutade",
        ),
        "Anna Berg bytte sitt lösenord (eget byte; 1 andra sessioner avslutade).",
    ),
    (
        event(
            "security.password_changed", actor="operator", subject=OLLE, detail="satt av driften"
        ),
        "Driften satte ett nytt lösenord för Olle Kollega (satt av driften).",
    ),
    (
        event("security.csrf_refused", subject="POST /granskning/5/godkann"),
        "Anna Berg skickade ett formulär utan giltig säkerhetskod (POST /granskning/5/godkann).",
    ),
    (
        event("security.forbidden", subject="GET /granskning/granskare"),
        "Anna Berg nekades åtkomst till GET /granskning/granskare.",
    ),
    (
        event("security.session_ended", subject=ANNA, detail="alla andra inloggningar (2)"),
        "Anna Berg avslutade alla andra inloggningar (2).",
    ),
    (
        event("security.second_factor_enrolled", subject=ANNA, detail="ny app ersatte den förra"),
        "Anna Berg aktiverade tvåstegsverifiering (ny app ersatte den förra).",
    ),
    (
        event("security.second_factor_failed", subject=ANNA, detail="fel kod"),
        "Anna Berg angav en felaktig kod för tvåstegsverifiering: fel kod.",
    ),
    (
        event(
            "security.second_factor_removed",
            actor="operator",
            subject=OLLE,
            detail="tvåstegsverifiering borttagen från kommandoraden",
        ),
        "Driften tog bort tvåstegsverifieringen för Olle Kollega; alla inloggningar avslutades.",
    ),
]


CASES += PORTAL_CASES


@pytest.mark.parametrize(("e", "expected"), CASES, ids=[f"{e.action}-{i}" for i, (e, _) in
                                                         enumerate(CASES)])  # fmt: skip
def test_each_kind_reads_as_a_swedish_sentence(e: AuditEvent, expected: str) -> None:
    text = describe(e, PEOPLE).text
    assert text.startswith(expected)
    assert text.endswith((".", ".”"))
    # Never a raw value, a code or a dict: those are behind "Detaljer".
    for raw in ("True", "False", "None", "{", "[", "'", e.action, "submission:", "_"):
        assert raw not in text, (raw, text)
    assert ".”." not in text and ".." not in text and "; ;" not in text


def test_the_cases_cover_every_kind_with_a_sentence() -> None:
    assert {e.action for e, _ in CASES} == described_kinds()


def _case(action: str) -> AuditEvent:
    return next(e for e, _ in CASES if e.action == action)


def test_parts_link_to_what_the_event_concerns() -> None:
    approved = describe(_case("submission.approved"), PEOPLE)
    assert approved.refs == [
        Ref("reviewer", "1"),
        Ref("submission", "5"),
        Ref("company", "556677-8899"),
    ]
    created = describe(_case("connection.created"), PEOPLE)
    assert created.refs == [
        Ref("reviewer", "1"), Ref("company", "559900-1122"), Ref("company", "556677-8899"),
        Ref("submission", "5"),
    ]  # fmt: skip
    [mail] = [
        p for p in describe(_case("outbox.resent"), PEOPLE).parts if p.ref == Ref("outbox", "4")
    ]
    assert mail.text == "mejl U-4"
    # Someone not in the reviewer table is named by what was stored, without a link.
    gone = describe(event("security.logout", actor="borta@byra.example", subject=""), PEOPLE)
    assert gone.text == "borta@byra.example loggade ut." and gone.refs == []


def test_a_kind_added_later_still_reads_as_a_sentence() -> None:
    future = event("submission.reminded", after={"sent": True, "next": None, "days": [3, 7]})
    assert describe(future, PEOPLE).text == "Anna Berg gjorde en ändring som gäller ärende 5."
    with_detail = event(
        "thing.done", actor="cli:greta", subject="connection:7", detail="händelse 3"
    )
    assert describe(with_detail, {}).text == (
        "Driften (greta) gjorde en ändring som gäller koppling 7: händelse 3."
    )
    assert kind_label("thing.done") == "Annan händelse"
    assert kind_group("thing.done") == "Ärenden" and kind_group("outbox.later") == "Post"


def test_a_known_kind_with_fields_missing_or_odd_still_reads() -> None:
    odd = event("submission.approved", after={"changes": "not a list", "override_reason": True})
    text = describe(odd, PEOPLE).text
    assert text.startswith("Anna Berg godkände ärende 5") and "True" not in text
    assert describe(event("connection.created", subject="connection:1"), {}).text == (
        "anna@byra.example kopplade ett företag till ett företag som byrå."
    )


def test_values_are_never_shown_raw() -> None:
    assert [value_text(v) for v in (True, False, None, [1, None, "a"], {"x": 1}, "  a  b ")] == [
        "ja",
        "nej",
        "",
        "1, a",
        "",
        "a b",
    ]


def test_the_filter_groups_kinds_under_swedish_headings() -> None:
    groups = kind_groups(["submission.approved", "payer.changed", "security.login_failed",
                          "security.reviewer_added", "mail.released", "outbox.resent"])  # fmt: skip
    assert [g for g, _ in groups] == list(GROUPS)
    assert dict(groups)["Granskare"] == [("security.reviewer_added", "Granskare tillagd")]
    assert dict(groups)["Post"] == [
        ("mail.released", "Meddelande släppt ur karantän"),
        ("outbox.resent", "Mejl skickat igen"),
    ]
    for kind in described_kinds():
        assert kind_label(kind) != "Annan händelse", kind


# -- the source scan ---------------------------------------------------------------------------


def _trees() -> Iterator[tuple[Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _constants(trees: list[tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    """Module-level `NAME = "text"` of every module, by name."""
    found: dict[str, set[str]] = {}
    for _, tree in trees:
        for node in tree.body:
            target = (
                node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            )
            value = getattr(node, "value", None)
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                found.setdefault(target.id, set()).add(value.value)
    return found


Sink = tuple[str, int | None]  # the parameter's name and its position, None for keyword-only


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, ast.FunctionDef | None]]:
    """Every call with the function it is in."""

    def walk(node: ast.AST, inside: ast.FunctionDef | None) -> Iterator[tuple[ast.Call, Any]]:
        for child in ast.iter_child_nodes(node):
            here = child if isinstance(child, ast.FunctionDef) else inside
            if isinstance(child, ast.Call):
                yield child, inside
            yield from walk(child, here)

    yield from walk(tree, None)


def _leaves(expr: ast.expr) -> Iterator[ast.expr]:
    if isinstance(expr, ast.IfExp):
        yield from _leaves(expr.body)
        yield from _leaves(expr.orelse)
    else:
        yield expr


def _argument(call: ast.Call, sink: Sink) -> ast.expr | None:
    name, position = sink
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if position is not None and position < len(call.args):
        return call.args[position]
    return None


def _parameter(function: ast.FunctionDef, name: str) -> Sink | None:
    positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if name in positional:
        return name, positional.index(name)
    if name in [a.arg for a in function.args.kwonlyargs]:
        return name, None
    return None


def written_kinds() -> tuple[set[str], list[str]]:
    """Every event kind the source writes, and what it passes that cannot be resolved."""
    trees = list(_trees())
    constants = _constants(trees)
    sinks: dict[str, Sink] = {
        "record_event": ("action", None),
        "record_security_event": ("action", 1),
        "Change": ("action", 0),
    }
    kinds: set[str] = set()
    unresolved: list[str] = []
    grown = True
    while grown:
        grown, unresolved = False, []
        for path, tree in trees:
            for call, function in _calls(tree):
                func = call.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called not in sinks:
                    continue
                arg = _argument(call, sinks[called])
                for leaf in _leaves(arg) if arg is not None else ():
                    where = f"{path.relative_to(ROOT)}:{leaf.lineno}"
                    if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                        kinds.add(leaf.value)
                    elif isinstance(leaf, ast.Name) and leaf.id in constants:
                        kinds |= constants[leaf.id]
                    elif (
                        isinstance(leaf, ast.Name)
                        and function is not None
                        and (forwarded := _parameter(function, leaf.id))
                    ):
                        # A helper that takes the kind: its callers are where the kind is.
                        if sinks.get(function.name) != forwarded:
                            sinks[function.name] = forwarded
                            grown = True
                    elif isinstance(leaf, ast.Attribute) and leaf.attr == "action":
                        pass  # a linkage `Change.action`: the `Change(...)` calls are scanned
                    else:
                        unresolved.append(f"{where}: {ast.unparse(leaf)}")
    return kinds, unresolved


def test_every_kind_written_has_a_sentence() -> None:
    kinds, unresolved = written_kinds()
    assert unresolved == [], "pass an event kind as a literal or a module constant"
    # The scan itself works: kinds written in each way are found.
    assert {
        "submission.approved",  # through decide._decide's parameter
        "security.forbidden",  # through web_common's refuse()
        "security.reviewer_enabled",  # one branch of a conditional
        "mail.moved_back",  # a module constant
        "connection.created", "payer.changed",  # linkage changes
        "registry.imported", "form.issued",
    } <= kinds  # fmt: skip
    missing = sorted(kinds - described_kinds())
    assert missing == [], f"give these event kinds a sentence in review/audit_text.py: {missing}"


def test_an_override_names_each_finding_once_and_quotes_the_reason() -> None:
    label = code_label("signature.missing")
    text = describe(_case("submission.override_requested"), PEOPLE).text
    assert text == (
        f"Anna Berg begärde undantag för ärende 5 trots fynd ({label[0].lower()}{label[1:]}): "
        "”Syns på bilden”. En annan granskare behöver bekräfta det."
    )
