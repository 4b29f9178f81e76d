"""Leaves: the canonical bytes every verifier recomputes, and nothing else decodes.

``rfc8785`` (the reference JCS implementation) is the oracle for the encoder; the
rejection cases are the ways a leaf could be spelled twice or carry a value that an
outside verifier would read differently.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.entries import (
    MAX_LEAF_BYTES,
    MAX_SAFE_INTEGER,
    ZERO_HASH_HEX,
    Entry,
    canonical_json,
    decode_leaf,
    encode_entry,
    format_time,
    normalize_text,
)
from ledger.errors import EncodingError
from ledger.merkle import hash_leaf

TIME = datetime(2021, 10, 6, 8, 30, 0, 123456, tzinfo=UTC)
PREV = "ab" * 32
VIETNAMESE = "ĐđÀÁẢÃẠàáảãạĂẮẰẲẴẶăắằẳẵặÂẤẦẨẪẬâấầẩẫậÊẾỀỂỄỆêếềểễệƠỚỜỞỠỢơớờởỡợƯỨỪỬỮỰưứừửữựỲÝỶỸỴỳýỷỹỵ"
NFD_NAME = "Nguye\u0302\u0303n Thi\u0323 Ho\u0300a"  # "Nguyễn Thị Hòa" decomposed
NFC_NAME = "Nguyễn Thị Hòa"


def make_entry(body: dict[str, Any], **fields: Any) -> Entry:
    values: dict[str, Any] = {
        "index": 7,
        "kind": "contribution",
        "time": TIME,
        "prev": PREV,
        "actor": "thu-quy",
    }
    values.update(fields)
    return encode_entry(body=body, **values)


def leaf_object(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "v": 1,
        "index": 3,
        "kind": "note",
        "time": "2021-10-06T08:30:00.000000Z",
        "prev": PREV,
        "actor": "thu-quy",
        "body": {"amount": 500_000, "donor": NFC_NAME},
    }
    obj.update(overrides)
    return obj


def jcs(obj: Any) -> bytes:
    return bytes(rfc8785.dumps(obj))


# --- the leaf domain: canonical_json is exactly RFC 8785 -------------------------------

keys = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
texts = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=VIETNAMESE + ' "\\\x00\x01\x08\t\n\x0c\r\x1f\x7f\u2028😀🇻🇳', max_size=30),
).map(lambda s: unicodedata.normalize("NFC", s))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
bodies = st.dictionaries(keys, values, max_size=6)


@settings(max_examples=200, deadline=None)
@given(values)
def test_canonical_json_is_rfc8785_on_the_leaf_domain(value: Any) -> None:
    assert canonical_json(value) == jcs(value)


@settings(max_examples=100, deadline=None)
@given(
    body=bodies,
    index=st.integers(0, MAX_SAFE_INTEGER),
    kind=st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
    actor=texts.filter(lambda s: 0 < len(s) <= 200),
    moment=st.integers(0, 200 * 366 * 86_400 * 10**6).map(
        lambda micros: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    ),
)
def test_decode_leaf_round_trips_encode_entry(
    body: dict[str, Any], index: int, kind: str, actor: str, moment: datetime
) -> None:
    entry = encode_entry(index=index, kind=kind, time=moment, prev=PREV, actor=actor, body=body)
    assert entry.leaf == jcs(entry.as_object())
    assert decode_leaf(entry.leaf) == entry


def test_leaf_of_a_vietnamese_contribution_is_pinned() -> None:
    entry = make_entry({"amount": 1_000_000, "currency": "VND", "donor": {"display": NFC_NAME}})
    assert (
        entry.leaf
        == (
            '{"actor":"thu-quy","body":{"amount":1000000,"currency":"VND",'
            '"donor":{"display":"Nguyễn Thị Hòa"}},"index":7,"kind":"contribution",'
            f'"prev":"{PREV}","time":"2021-10-06T08:30:00.123456Z","v":1}}'
        ).encode()
    )
    assert entry.leaf_hash == hash_leaf(entry.leaf)
    assert decode_leaf(entry.leaf).body["donor"]["display"] == NFC_NAME


def test_times_are_written_in_utc_with_microseconds_and_z() -> None:
    hanoi = timezone(timedelta(hours=7))
    entry = make_entry({}, time=datetime(2021, 10, 6, 15, 30, tzinfo=hanoi))
    assert b'"time":"2021-10-06T08:30:00.000000Z"' in entry.leaf
    assert entry.time == datetime(2021, 10, 6, 8, 30, tzinfo=UTC)


def test_decode_accepts_jcs_key_order_beyond_the_bmp() -> None:
    # UTF-16 order puts U+1F600 (D83D DE00) before U+E000; code point order does not.
    body = {"\ue000": 1, "😀": 2}
    leaf = jcs(leaf_object(body=body))
    assert leaf.index("😀".encode()) < leaf.index("\ue000".encode())
    assert decode_leaf(leaf).body == body
    code_point_order = json.dumps(
        leaf_object(body=body), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
    with pytest.raises(EncodingError, match="canonical"):
        decode_leaf(code_point_order)


# --- decode_leaf refuses every other spelling ------------------------------------------

GOOD = jcs(leaf_object())


def test_the_reference_leaf_decodes() -> None:
    entry = decode_leaf(GOOD)
    assert (entry.index, entry.kind, entry.body["amount"]) == (3, "note", 500_000)


@pytest.mark.parametrize(
    ("leaf", "reason"),
    [
        pytest.param(GOOD.replace(b"500000", b"500000.0"), "floating-point", id="float"),
        pytest.param(GOOD.replace(b"500000", b"5e5"), "floating-point", id="exponent"),
        # NaN and Infinity are not JSON at all.
        pytest.param(GOOD.replace(b"500000", b"NaN"), "UTF-8 JSON", id="nan"),
        pytest.param(GOOD.replace(b"500000", b"Infinity"), "UTF-8 JSON", id="infinity"),
        pytest.param(
            GOOD.replace(b'"body":{', b'"body":{"deep":[[1,2.5]],'),
            "floating-point",
            id="nested-float",
        ),
        pytest.param(GOOD.replace(b"500000", b"-0"), "canonical", id="minus-zero"),
        pytest.param(GOOD.replace(b"500000", b"0500000"), "not UTF-8 JSON", id="leading-zero"),
        pytest.param(GOOD.replace(b",", b", ", 1), "canonical", id="whitespace"),
        pytest.param(GOOD + b"\n", "canonical", id="trailing-newline"),
        pytest.param(b" " + GOOD, "canonical", id="leading-space"),
        pytest.param(
            json.dumps(leaf_object(), ensure_ascii=False, separators=(",", ":")).encode(),
            "canonical",
            id="member-order",
        ),
        pytest.param(GOOD.replace("ễ".encode(), b"\\u1ec5"), "canonical", id="escaped-letter"),
        pytest.param(
            jcs(leaf_object(body={"t": "á"})).replace("á".encode(), b"\\u00e1"),
            "canonical",
            id="escaped-a-acute",
        ),
        pytest.param(
            jcs(leaf_object(body={"t": "\n"})).replace(b"\\n", b"\\u000a"),
            "canonical",
            id="long-escape-for-newline",
        ),
        pytest.param(
            jcs(leaf_object(body={"t": "\x1f"})).replace(b"\\u001f", b"\\u001F"),
            "canonical",
            id="uppercase-escape",
        ),
        pytest.param(
            jcs(leaf_object(actor="a/b")).replace(b"a/b", b"a\\/b"),
            "canonical",
            id="escaped-solidus",
        ),
        pytest.param(GOOD.replace(b'"v":1}', b'"v":1,"v":1}'), "canonical", id="duplicate-v"),
        pytest.param(
            GOOD.replace(b'"body":{', b'"body":{"amount":1,'), "canonical", id="duplicate-member"
        ),
        pytest.param(jcs(leaf_object(body={"donor": NFD_NAME})), "NFC", id="non-nfc-text"),
        pytest.param(
            jcs(leaf_object(body={"amount": MAX_SAFE_INTEGER})).replace(
                str(MAX_SAFE_INTEGER).encode(), str(MAX_SAFE_INTEGER + 1).encode()
            ),
            "outside",
            id="integer-2**53",
        ),
        pytest.param(
            jcs(leaf_object(body={"amount": -MAX_SAFE_INTEGER})).replace(
                str(-MAX_SAFE_INTEGER).encode(), str(-MAX_SAFE_INTEGER - 1).encode()
            ),
            "outside",
            id="integer-minus-2**53",
        ),
        pytest.param(GOOD.replace(b',"v":1', b""), "exactly", id="missing-v"),
        pytest.param(
            GOOD.replace(b'"prev":"' + PREV.encode() + b'",', b""), "exactly", id="missing-prev"
        ),
        pytest.param(jcs({**leaf_object(), "extra": 1}), "exactly", id="extra-member"),
        pytest.param(jcs([leaf_object()]), "exactly", id="array"),
        pytest.param(jcs(leaf_object(v=2)), "version", id="version-2"),
        pytest.param(jcs(leaf_object(v=True)), "version", id="version-true"),
        pytest.param(jcs(leaf_object(index=-1)), "index", id="negative-index"),
        pytest.param(jcs(leaf_object(index="3")), "index", id="string-index"),
        pytest.param(jcs(leaf_object(kind="Note")), "kind", id="uppercase-kind"),
        pytest.param(jcs(leaf_object(prev=PREV.upper())), "prev", id="uppercase-prev"),
        pytest.param(jcs(leaf_object(prev=PREV[:-2])), "prev", id="short-prev"),
        pytest.param(jcs(leaf_object(actor="")), "actor", id="empty-actor"),
        pytest.param(jcs(leaf_object(body=[1])), "body", id="array-body"),
        pytest.param(jcs(leaf_object(time="2021-10-06T08:30:00Z")), "RFC 3339", id="no-micros"),
        pytest.param(
            jcs(leaf_object(time="2021-10-06T08:30:00.000000+00:00")), "RFC 3339", id="offset"
        ),
        pytest.param(jcs(leaf_object(time="2021-02-30T08:30:00.000000Z")), "date", id="feb-30"),
        pytest.param(GOOD.replace("ễ".encode(), b"\xe1\xbb"), "UTF-8", id="truncated-utf8"),
        pytest.param(GOOD.replace("ễ".encode(), b"\xff"), "UTF-8", id="invalid-byte"),
        pytest.param(GOOD.replace("ễ".encode(), b"\xed\xa0\x80"), "UTF-8", id="encoded-surrogate"),
        pytest.param(
            # An escaped lone surrogate is no Unicode text (I-JSON, RFC 7493 §2.1).
            jcs(leaf_object(body={"t": "x"})).replace(b'"x"', b'"\\ud800"'),
            "UTF-8 JSON",
            id="escaped-lone-surrogate",
        ),
        pytest.param(b"", "UTF-8 JSON", id="empty"),
    ],
)
def test_decode_leaf_rejects(leaf: bytes, reason: str) -> None:
    with pytest.raises(EncodingError, match=reason):
        decode_leaf(leaf)


def test_decode_leaf_rejects_a_leaf_over_65535_bytes() -> None:
    filler = "x" * (MAX_LEAF_BYTES - len(jcs(leaf_object(body={"t": ""}))))
    at_limit = jcs(leaf_object(body={"t": filler}))
    assert len(at_limit) == MAX_LEAF_BYTES
    assert decode_leaf(at_limit).body["t"] == filler
    with pytest.raises(EncodingError, match="65535 allowed"):
        decode_leaf(jcs(leaf_object(body={"t": filler + "x"})))


def test_decode_leaf_rejects_deep_nesting_as_an_encoding_error() -> None:
    deep = GOOD.replace(b"500000", b"[" * 30_000 + b"]" * 30_000)
    assert len(deep) <= MAX_LEAF_BYTES
    with pytest.raises(EncodingError, match="not UTF-8 JSON"):
        decode_leaf(deep)


# --- encode_entry refuses what a verifier would reject ---------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"amount": 1.0}, "floating-point", id="float"),
        pytest.param({"amount": float("nan")}, "floating-point", id="nan"),
        pytest.param({"rows": [{"share": 0.5}]}, "floating-point", id="nested-float"),
        pytest.param({"amount": 2**53}, "outside", id="integer-2**53"),
        pytest.param({"amount": -(2**53)}, "outside", id="integer-minus-2**53"),
        pytest.param({"Amount": 1}, "member name", id="uppercase-key"),
        pytest.param({"1st": 1}, "member name", id="digit-key"),
        pytest.param({"số_tiền": 1}, "member name", id="vietnamese-key"),
        pytest.param({"a-b": 1}, "member name", id="dash-key"),
        pytest.param({"": 1}, "member name", id="empty-key"),
        pytest.param({"donor": {"full name": "x"}}, "member name", id="nested-bad-key"),
        pytest.param({1: "x"}, "member name", id="integer-key"),
        pytest.param({"t": "\ud800"}, "Unicode", id="lone-surrogate"),
        pytest.param({"b": b"bytes"}, "bytes", id="bytes"),
        pytest.param({"d": TIME}, "datetime", id="datetime"),
        pytest.param({"s": {1, 2}}, "set", id="set"),
        pytest.param({"t": "x" * MAX_LEAF_BYTES}, "at most 65535", id="too-large"),
    ],
)
def test_encode_entry_refuses_body(body: dict[Any, Any], reason: str) -> None:
    with pytest.raises(EncodingError, match=reason):
        make_entry(body)


def test_encode_entry_stores_decomposed_text_as_nfc() -> None:
    """Writers may send NFD Vietnamese; the leaf holds the same text, composed."""
    entry = make_entry({"donor": NFD_NAME, "note": [NFD_NAME]})
    composed = unicodedata.normalize("NFC", NFD_NAME)
    assert composed != NFD_NAME
    assert entry.body == {"donor": composed, "note": [composed]}
    assert decode_leaf(entry.leaf).body == entry.body


def test_canonical_json_refuses_decomposed_text() -> None:
    with pytest.raises(EncodingError, match="NFC"):
        canonical_json({"donor": NFD_NAME})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"kind": "Contribution"}, "kind", id="uppercase-kind"),
        pytest.param({"kind": "key-rotation"}, "kind", id="dash-kind"),
        pytest.param({"kind": ""}, "kind", id="empty-kind"),
        pytest.param({"kind": "k" * 65}, "kind", id="long-kind"),
        pytest.param({"actor": ""}, "actor", id="empty-actor"),
        pytest.param({"actor": "a" * 201}, "actor", id="long-actor"),
        pytest.param({"prev": PREV.upper()}, "prev", id="uppercase-prev"),
        pytest.param({"prev": "00"}, "prev", id="short-prev"),
        pytest.param({"time": datetime(2021, 10, 6)}, "timezone", id="naive-time"),
        pytest.param({"index": 2**53}, "outside", id="index-2**53"),
    ],
)
def test_encode_entry_refuses_fields(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(EncodingError, match=reason):
        make_entry({}, **fields)


def test_encode_entry_accepts_the_limits() -> None:
    entry = make_entry(
        {"max": MAX_SAFE_INTEGER, "min": -MAX_SAFE_INTEGER, "flag": False, "none": None},
        actor="a" * 200,
        kind="k" * 64,
        prev=ZERO_HASH_HEX,
    )
    assert decode_leaf(entry.leaf).body["min"] == -MAX_SAFE_INTEGER


def test_format_time_refuses_naive_datetimes() -> None:
    with pytest.raises(EncodingError, match="timezone"):
        format_time(datetime(2021, 10, 6))


# --- normalize_text ---------------------------------------------------------------------


def test_normalize_text_turns_nfd_vietnamese_into_nfc() -> None:
    value = {"donor": {"display": NFD_NAME}, "tags": [NFD_NAME, ("Ho\u0300a",)], "n": 5}
    normalized = normalize_text(value)
    assert normalized == {"donor": {"display": NFC_NAME}, "tags": [NFC_NAME, ["Hòa"]], "n": 5}
    assert len(normalized["donor"]["display"]) == len(NFC_NAME) < len(NFD_NAME)
    assert make_entry(normalized).body["donor"]["display"] == NFC_NAME


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=VIETNAMESE + "aeiouyAEIOUY \u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b")
)
def test_normalize_text_output_is_nfc_and_encodable(text: str) -> None:
    normalized = normalize_text(text)
    assert unicodedata.is_normalized("NFC", normalized)
    assert normalized == unicodedata.normalize("NFC", text)
    assert decode_leaf(make_entry({"t": normalized}).leaf).body["t"] == normalized
