"""Hostile and broken bank statements: never a 5xx, never a half-recorded import.

Hypothesis writes statements line by line from cells a real export could hold and
cells an attacker or a broken spreadsheet would: formulas, huge or negative or
fractional amounts, impossible dates, markup, control characters, stray delimiters
and quotes. Whatever the answer, the ledger afterwards holds exactly the gifts the
answer reports, every published balance equals the log's, and nothing else changed.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.api import auth, log_size

from ledger.funds.consistency import check_balances

API = "/api/v1"
HOSTILE = st.sampled_from(
    [
        '=HYPERLINK("http://x")',
        "+1+1",
        "-2-2",
        "@SUM(A1)",
        "<script>alert(1)</script>",
        "\x00",
        "\t\r",
        '"',
        ";;;",
        "9" * 40,
        "1e400",
        "NaN",
        "-0",
        "1.000.000,5",
        "31/02/2026",
        "0000-00-00",
        "Nguyễn Văn A\u0301",
        "",
    ]
)
AMOUNT = st.one_of(
    st.integers(-(10**18), 10**18).map(lambda n: f"{n:,}"),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    HOSTILE,
)
HEADER = ["Date", "Reference", "Credit", "Debit", "Memo", "Counterparty", "Balance"]


def _line(draw: Any, today: str) -> list[str]:
    """A credit as a bank exports it, or with any cell swapped for a hostile one."""
    line = [
        today,
        draw(st.from_regex(r"FT[0-9]{6}", fullmatch=True)),
        f"{draw(st.integers(1, 10**9)):,}",
        "",
        draw(st.sampled_from(["LS26COVID ung ho", "CL26COVID", "ung ho mien Nam"])),
        draw(st.sampled_from(["NGUYEN VAN AN", "Lê Thị Dung", ""])),
        "",
    ]
    for position in draw(st.sets(st.integers(0, len(line) - 1), max_size=3)):
        line[position] = draw(st.one_of(HOSTILE, AMOUNT, st.text(max_size=30)))
    return line


@st.composite
def statements(draw: Any, today: str) -> bytes:
    rows = [HEADER] + [_line(draw, today) for _ in range(draw(st.integers(0, 8)))]
    out = io.StringIO()
    csv.writer(out, delimiter=draw(st.sampled_from([",", ";", "\t"]))).writerows(rows)
    data = out.getvalue().encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    cut = draw(st.integers(0, len(data)))
    return data if draw(st.booleans()) else data[:cut]


def test_no_statement_breaks_the_service_or_the_books(
    client: FlaskClient, funds: Any, admin: str
) -> None:
    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=statements(funds.today), all_or_nothing=st.booleans())
    def upload(data: bytes, all_or_nothing: bool) -> None:
        before = log_size(client)
        query = f"format=generic&all_or_nothing={str(all_or_nothing).lower()}"
        response = client.post(
            f"{API}/imports?{query}",
            data=data,
            headers={**auth(admin), "Content-Type": "text/csv"},
        )
        assert response.status_code in (201, 409, 422), response.get_data(as_text=True)
        body = response.get_json()
        created = len(body["created"]) if response.status_code == 201 else 0
        if response.status_code != 201:
            assert body["error"]["message"]  # a refusal says why, in the usual shape
        assert log_size(client) == before + created
        with funds.db.session() as session:
            _count, problems = check_balances(session)
        assert problems == []

    upload()
