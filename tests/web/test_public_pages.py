"""The public form pages through the test client: fill in, errors, download, limits."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session

from forms import normalise_form_id
from registry import get_issued_form
from tests.web.conftest import MAILBOX, make_app


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def issued_id(response_headers: dict[str, str] | object) -> str:
    disposition = response_headers["content-disposition"]  # type: ignore[index]
    stem = disposition.split('filename="')[1].rstrip('"').removesuffix(".pdf")
    return normalise_form_id(stem.split("-", 1)[1])


def test_index_lists_both_forms_in_swedish(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    text = r.text.replace("\u00ad", "")  # soft hyphens break the long words on a phone
    assert "Dubbelsammankoppling" in text and "Bortkoppling" in text
    assert "Dubbel\u00adsamman\u00adkoppling" in r.text
    assert MAILBOX in r.text
    assert 'lang="sv"' in r.text


def test_form_page_has_every_typed_field(client: TestClient) -> None:
    r = client.get("/blankett/dubbelsammankoppling")
    assert r.status_code == 200
    for name in ("client_orgnr", "client_subscription", "new_firm_email", "current_firm_role"):
        assert f'name="{name}"' in r.text
    assert 'name="client_date"' not in r.text  # dates are written by hand


def test_download_prefilled_dual_records_the_issued_form(
    client: TestClient, loaded_engine: Engine, dual_values: dict[str, str]
) -> None:
    values = dict(dual_values, client_name="")  # the registry supplies it
    r = client.post("/blankett/dubbelsammankoppling", data=values)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith(
        'attachment; filename="dubbelsammankoppling-'
    )
    form_id = issued_id(r.headers)
    text = pdf_text(r.content)
    assert dual_values["client_name"] in text
    assert dual_values["new_firm_email"] in text
    with Session(loaded_engine) as session:
        issued = get_issued_form(session, form_id)
        assert issued is not None
        assert issued.kind == "dual"
        assert issued.values["client_name"] == dual_values["client_name"]
        assert issued.source == "web"


def test_download_prefilled_disconnect(
    client: TestClient, disconnect_values: dict[str, str]
) -> None:
    r = client.post("/blankett/bortkoppling", data=disconnect_values)
    assert r.status_code == 200, r.text
    assert disconnect_values["firm_name"] in pdf_text(r.content)


def test_mismatched_subscription_is_an_error_and_records_nothing(
    client: TestClient, loaded_engine: Engine, dual_values: dict[str, str]
) -> None:
    from forms import make_subscription_number

    wrong = make_subscription_number(9_999_991)
    r = client.post(
        "/blankett/dubbelsammankoppling", data=dict(dual_values, client_subscription=wrong)
    )
    assert r.status_code == 422
    assert "hör inte till det organisationsnumret" in r.text
    assert 'aria-invalid="true"' in r.text
    assert f'value="{wrong}"' in r.text  # what the person typed is kept


def test_each_bad_field_is_named_next_to_it(
    client: TestClient, dual_values: dict[str, str]
) -> None:
    bad = dict(
        dual_values, client_orgnr="556677-8890", new_firm_email="inte-en-adress", new_firm_role=""
    )
    r = client.post("/blankett/dubbelsammankoppling", data=bad)
    assert r.status_code == 422
    assert "Kontrollsiffran" in r.text
    assert "ser inte ut som en e-postadress" in r.text
    assert 'id="e-new_firm_role"' in r.text
    assert "Rätta 3 fel" in r.text


def test_lookup_fills_the_name_only_for_a_matching_pair(
    client: TestClient, dual_values: dict[str, str]
) -> None:
    pair = {
        "client_orgnr": dual_values["client_orgnr"],
        "client_subscription": dual_values["client_subscription"],
        "action": "lookup",
    }
    r = client.post("/blankett/dubbelsammankoppling", data=pair)
    assert r.status_code == 200
    assert f'value="{dual_values["client_name"]}"' in r.text
    assert "Företaget hittades" in r.text

    from forms import make_subscription_number

    other = dict(pair, client_subscription=make_subscription_number(1_234_567))
    r = client.post("/blankett/dubbelsammankoppling", data=other)
    assert r.status_code == 422
    assert dual_values["client_name"] not in r.text


def test_blank_download_is_a_fillable_pdf(client: TestClient) -> None:
    r = client.get("/blankett/bortkoppling/blank.pdf")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="bortkoppling-blank.pdf"'
    fields = PdfReader(io.BytesIO(r.content)).get_fields()
    assert fields and any("client_orgnr" in name for name in fields)


def test_downloads_are_limited_per_client(loaded_engine: Engine) -> None:
    with TestClient(make_app(loaded_engine, limit=2)) as c:
        assert c.get("/blankett/dubbelsammankoppling/blank.pdf").status_code == 200
        assert c.get("/blankett/bortkoppling/blank.pdf").status_code == 200
        r = c.get("/blankett/bortkoppling/blank.pdf")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "För många förfrågningar" in r.text
        # Browsing the pages is not a download and stays open.
        assert c.get("/blankett/bortkoppling").status_code == 200


def test_forwarded_for_is_ignored_unless_trusted(loaded_engine: Engine) -> None:
    with TestClient(make_app(loaded_engine, limit=1)) as c:
        assert (
            c.get(
                "/blankett/bortkoppling/blank.pdf", headers={"X-Forwarded-For": "1.1.1.1"}
            ).status_code
            == 200
        )
        assert (
            c.get(
                "/blankett/bortkoppling/blank.pdf", headers={"X-Forwarded-For": "2.2.2.2"}
            ).status_code
            == 429
        )
    # From a trusted proxy, the hop it appended is the client.
    app = make_app(loaded_engine, limit=1, trusted_proxies="127.0.0.1/32")
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        for ip in ("1.1.1.1", "2.2.2.2"):
            assert (
                c.get(
                    "/blankett/bortkoppling/blank.pdf", headers={"X-Forwarded-For": ip}
                ).status_code
                == 200
            )


@pytest.mark.parametrize("path", ["/", "/blankett/bortkoppling", "/healthz"])
def test_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def test_unknown_form_is_404(client: TestClient) -> None:
    assert client.get("/blankett/nagot-annat").status_code == 404
    assert client.post("/blankett/nagot-annat", data={}).status_code == 404


def test_a_wrong_number_is_not_also_reported_as_a_missing_name(
    client: TestClient, disconnect_values: dict[str, str]
) -> None:
    r = client.post(
        "/blankett/bortkoppling",
        data=dict(disconnect_values, client_name="", client_subscription="10040583"),
    )
    assert r.status_code == 422
    assert "Rätta 1 fel" in r.text
    assert "Företaget: Abonnemangsnummer – Abonnemangsnumret är felskrivet" in r.text
