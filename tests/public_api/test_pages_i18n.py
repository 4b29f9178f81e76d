"""The pages speak Vietnamese first and English when asked, by URL alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
PYBABEL = str(Path(sys.executable).with_name("pybabel"))


def test_home_is_vietnamese_by_default_and_english_on_request(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<html lang="vi">' in text
    assert "Tra cứu khoản ủng hộ" in text
    assert 'href="/?lang=en"' in text
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Find my gift" in english
    assert 'href="/tra-cuu?lang=en"' in english  # links keep the reader's language
    assert "Tra cứu khoản ủng hộ" not in english


def test_an_unknown_language_falls_back_to_vietnamese(client: FlaskClient) -> None:
    assert '<html lang="vi">' in client.get("/?lang=xx").get_data(as_text=True)


def test_every_message_is_translated_and_compiled(tmp_path: Path) -> None:
    """`make translations` was run after the last change to a page's messages."""
    po_path = ROOT / "public_api/translations/en/LC_MESSAGES/messages.po"
    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    assert [m.id for m in catalogue if m.id and not m.string] == []
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [PYBABEL, "--quiet", "extract", "-F", "babel.cfg", "-k", "_", "-o", str(extracted), "."],
        cwd=ROOT,
        check=True,
    )
    with extracted.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    assert wanted - {m.id for m in catalogue if m.id} == set()
    with po_path.with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)
    assert _messages(compiled) == _messages(catalogue)


def _messages(catalogue: Catalog) -> dict[str, str]:
    """What a catalogue translates (its header, with the day it was made, left aside)."""
    return {str(m.id): str(m.string) for m in catalogue if m.id}
