"""Signed checkpoints must be byte-exact C2SP notes, and nothing else may verify."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger.checkpoint import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    NoteSignature,
    SignedNote,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from ledger.errors import LedgerError, NoteError
from ledger.keys import SigningKey, VerifierKey

NAME = "quy.mttq-langson.vn/covid19"
SEED = hashlib.sha256(b"mttq-ledger test seed").digest()
ROOT = hashlib.sha256(b"").digest()
DASH = "\u2014"

GOLDEN_NOTE = (
    "quy.mttq-langson.vn/covid19\n"
    "1337\n"
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    "\n"
    "\u2014 quy.mttq-langson.vn/covid19 LrVP7pg9sncgM070R6YbbDG6qC5Q5AdSz3FCRKc3BgVraj867siPZ26j"
    "Hi9B73GdM7dahHLXWUfK4nqw2VLbL8fxUwM=\n"
)

# Published in golang.org/x/mod/sumdb/note (package docs and note_test.go).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
    "dngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOT"
    "GwnWLox33WWd1RvMc+QQ=\n"
)
PETER_NOTE = PETER_TEXT + "\n" + PETER_SIG


def golden_key() -> SigningKey:
    return SigningKey(NAME, Ed25519PrivateKey.from_private_bytes(SEED))


KEY = golden_key()
VKEY = KEY.verifier
OTHER = SigningKey.generate(NAME)  # same name, different key: a rotated or forged key


def signed(text: str, key: SigningKey = KEY) -> str:
    return sign_note(text, key).render()


# --- golden vectors ---------------------------------------------------------------------


def test_golden_checkpoint_note_from_first_principles() -> None:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key().public_bytes_raw()
    kid = hashlib.sha256(NAME.encode() + b"\n\x01" + public).digest()[:4]
    text = f"{NAME}\n1337\n{base64.b64encode(ROOT).decode()}\n"
    line = f"\u2014 {NAME} {base64.b64encode(kid + private.sign(text.encode())).decode()}\n"
    expected = text + "\n" + line

    note = sign_checkpoint(Checkpoint(NAME, 1337, ROOT), KEY)
    assert note == expected == GOLDEN_NOTE
    assert note.encode("utf-8").count("\u2014 ".encode()) == 1
    assert "\u2014 ".encode() == b"\xe2\x80\x94 "
    assert verify_checkpoint(note, VKEY) == Checkpoint(NAME, 1337, ROOT)
    assert verify_checkpoint(note.encode(), VKEY) == Checkpoint(NAME, 1337, ROOT)


def test_go_published_note_verifies_and_re_signs_identically() -> None:
    key = VerifierKey.parse(PETER_VKEY)
    note = SignedNote.parse(PETER_NOTE)
    note.verify(key)
    assert note.text == PETER_TEXT
    assert note.render() == PETER_NOTE
    sig = note.signature_by(key)
    assert sig is not None and sig.key_id.hex() == "c74f20a3"


def test_go_doubly_signed_note_verifies_with_either_key() -> None:
    note = SignedNote.parse(PETER_TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    note.verify(VerifierKey.parse(PETER_VKEY))
    note.verify(VerifierKey.parse(ENOCH_VKEY))
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]


def test_go_published_note_fails_with_any_one_character_changed() -> None:
    key = VerifierKey.parse(PETER_VKEY)
    for i, c in enumerate(PETER_NOTE):
        for replacement in {"A" if c != "A" else "B", "\n" if c != "\n" else " "}:
            mangled = PETER_NOTE[:i] + replacement + PETER_NOTE[i + 1 :]
            with pytest.raises(NoteError):
                SignedNote.parse(mangled).verify(key)


# --- round trips ------------------------------------------------------------------------


def test_sign_parse_verify_round_trip() -> None:
    checkpoint = Checkpoint(NAME, 42, hashlib.sha256(b"x").digest(), ("ext one", "ext-two"))
    note = sign_checkpoint(checkpoint, KEY)
    parsed = SignedNote.parse(note)
    assert parsed.render() == note
    assert parsed.text == checkpoint.text()
    assert parsed.text.splitlines()[3:] == ["ext one", "ext-two"]
    parsed.verify(VKEY)
    assert verify_checkpoint(note, VKEY) == checkpoint
    assert Checkpoint.from_text(checkpoint.text()) == checkpoint


def test_empty_tree_and_largest_size() -> None:
    for size in (0, 2**64 - 1):
        checkpoint = Checkpoint(NAME, size, ROOT)
        assert checkpoint.text().split("\n")[1] == str(size)
        assert verify_checkpoint(sign_checkpoint(checkpoint, KEY), VKEY) == checkpoint


def test_note_text_may_contain_blank_lines() -> None:
    text = "first\n\nthird\n\n"
    note = signed(text)
    assert note == text + "\n" + SignedNote.parse(note).signatures[0].line()
    parsed = SignedNote.parse(note)
    assert parsed.text == text
    parsed.verify(VKEY)


# --- signatures by other keys -----------------------------------------------------------


def test_unknown_extra_signature_is_ignored() -> None:
    note = SignedNote.parse(sign_checkpoint(Checkpoint(NAME, 7, ROOT), KEY))
    witness = SigningKey.generate("witness.example/w1")
    cosigned = note.with_signature(sign_note(note.text, witness).signatures[0])
    unknown = NoteSignature("someone.else", b"\1\2\3\4", b"opaque, any length")
    rendered = cosigned.with_signature(unknown).render()
    assert rendered.count(DASH) == 3
    assert verify_checkpoint(rendered, VKEY).size == 7
    SignedNote.parse(rendered).verify(witness.verifier)


def test_unknown_signature_first_is_ignored_too() -> None:
    good = SignedNote.parse(sign_checkpoint(Checkpoint(NAME, 7, ROOT), KEY))
    stranger = sign_note(good.text, OTHER).signatures[0]
    note = SignedNote(good.text, (stranger, *good.signatures))
    assert verify_checkpoint(note.render(), VKEY).size == 7


def test_signature_by_another_key_only_is_rejected() -> None:
    note = sign_checkpoint(Checkpoint(NAME, 7, ROOT), OTHER)
    with pytest.raises(NoteError, match="no signature by"):
        verify_checkpoint(note, VKEY)


def test_signature_with_our_key_id_but_another_name_is_ignored() -> None:
    good = SignedNote.parse(sign_checkpoint(Checkpoint(NAME, 7, ROOT), KEY))
    sig = good.signatures[0]
    renamed = SignedNote(good.text, (NoteSignature(NAME + "x", sig.key_id, sig.signature),))
    assert renamed.signature_by(VKEY) is None
    with pytest.raises(NoteError, match="no signature by"):
        renamed.verify(VKEY)


def test_forged_signature_claiming_our_key_fails_even_beside_a_good_one() -> None:
    good = SignedNote.parse(sign_checkpoint(Checkpoint(NAME, 7, ROOT), KEY))
    forged = NoteSignature(NAME, VKEY.key_id, OTHER.sign(good.text.encode()))
    for order in ((forged, *good.signatures), (*good.signatures, forged)):
        with pytest.raises(NoteError, match="signature does not verify"):
            verify_checkpoint(SignedNote(good.text, order).render(), VKEY)


def test_with_signature_replaces_an_earlier_signature_by_the_same_key() -> None:
    note = sign_note("hello\n", KEY)
    stale = NoteSignature(NAME, VKEY.key_id, b"\0" * 64)
    witness = sign_note("hello\n", SigningKey.generate("w")).signatures[0]
    replaced = SignedNote("hello\n", (stale, witness)).with_signature(note.signatures[0])
    assert replaced.signatures == (witness, note.signatures[0])
    replaced.verify(VKEY)


# --- checkpoint bodies and origins ------------------------------------------------------


def test_origin_must_match_the_key_name() -> None:
    other_name = SigningKey(NAME + "-test", KEY.private_key)
    note = signed(Checkpoint(NAME, 1, ROOT).text(), other_name)
    SignedNote.parse(note).verify(other_name.verifier)
    with pytest.raises(NoteError, match="origin mismatch"):
        verify_checkpoint(note, other_name.verifier)
    with pytest.raises(NoteError, match="origin mismatch"):
        sign_checkpoint(Checkpoint(NAME, 1, ROOT), other_name)


_ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"\n1\n{_ROOT64}\n", id="empty-origin"),
        pytest.param(f"{NAME}\n01\n{_ROOT64}\n", id="leading-zero"),
        pytest.param(f"{NAME}\n00\n{_ROOT64}\n", id="double-zero"),
        pytest.param(f"{NAME}\n-1\n{_ROOT64}\n", id="negative"),
        pytest.param(f"{NAME}\n+1\n{_ROOT64}\n", id="plus-sign"),
        pytest.param(f"{NAME}\n 1\n{_ROOT64}\n", id="space"),
        pytest.param(f"{NAME}\n1_000\n{_ROOT64}\n", id="underscore"),
        pytest.param(f"{NAME}\n0x10\n{_ROOT64}\n", id="hex"),
        pytest.param(f"{NAME}\n1e3\n{_ROOT64}\n", id="exponent"),
        pytest.param(f"{NAME}\n\u0661\n{_ROOT64}\n", id="arabic-indic-digit"),
        pytest.param(f"{NAME}\n\uff11\n{_ROOT64}\n", id="fullwidth-digit"),
        pytest.param(f"{NAME}\n\n{_ROOT64}\n", id="empty-size"),
        pytest.param(f"{NAME}\n{2**64}\n{_ROOT64}\n", id="size-overflows-uint64"),
        pytest.param(f"{NAME}\n{'9' * 5000}\n{_ROOT64}\n", id="huge-size"),
        pytest.param(f"{NAME}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", id="root-31"),
        pytest.param(f"{NAME}\n1\n{base64.b64encode(ROOT + b'0').decode()}\n", id="root-33"),
        pytest.param(f"{NAME}\n1\n{ROOT.hex()}\n", id="root-hex"),
        pytest.param(f"{NAME}\n1\n{_ROOT64.rstrip('=')}\n", id="root-unpadded"),
        pytest.param(f"{NAME}\n1\n{_ROOT64[:-2]}V=\n", id="root-non-canonical"),
        pytest.param(f"{NAME}\n1\n{_ROOT64.replace('+', '-').replace('/', '_')}\n", id="urlsafe"),
        pytest.param(f"{NAME}\n1\n\n", id="empty-root"),
        pytest.param(f"{NAME}\n1\n", id="two-lines"),
        pytest.param(f"{NAME}\n", id="one-line"),
        pytest.param(f"{NAME}\n1\n{_ROOT64}\n\n", id="empty-extension-line"),
        pytest.param(f"{NAME}\n1\n{_ROOT64}\next\n\nmore\n", id="blank-between-extensions"),
    ],
)
def test_malformed_checkpoint_bodies_are_rejected_even_when_signed(body: str) -> None:
    note = signed(body)
    SignedNote.parse(note).verify(VKEY)  # the signature is fine, the body is not
    with pytest.raises(NoteError):
        verify_checkpoint(note, VKEY)
    with pytest.raises(NoteError):
        Checkpoint.from_text(body)


def test_non_canonical_root_decodes_leniently() -> None:
    """Guards the case above: only the strict decoder tells it apart from the real root."""
    assert base64.b64decode(_ROOT64[:-2] + "V=") == ROOT


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        (NAME, -1, ROOT, ()),
        (NAME, 2**64, ROOT, ()),
        (NAME, 1, ROOT[:31], ()),
        (NAME, 1, ROOT, ("",)),
        (NAME + "\nx", 1, ROOT, ()),
        (NAME, 1, ROOT, ("a\nb",)),
        (NAME, 1, ROOT, ("tab\there",)),
        (NAME + "\x7f\x00", 1, ROOT, ()),
    ],
)
def test_checkpoints_cannot_be_constructed_invalid(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(NoteError):
        Checkpoint(origin, size, root, extensions)


# --- malformed notes --------------------------------------------------------------------

_GOOD_SIG = GOLDEN_NOTE.split("\n\n")[1]
_GOOD_TEXT = GOLDEN_NOTE.split("\n\n")[0] + "\n"
_SIG_B64 = _GOOD_SIG.split(" ")[2].rstrip("\n")


@pytest.mark.parametrize(
    "note",
    [
        pytest.param(_GOOD_TEXT, id="text-only"),
        pytest.param(_GOOD_TEXT + "\n", id="blank-line-no-signature"),
        pytest.param(_GOOD_TEXT + _GOOD_SIG, id="missing-blank-line"),
        pytest.param(GOLDEN_NOTE[:-1], id="no-trailing-newline"),
        pytest.param(GOLDEN_NOTE + "\n", id="trailing-blank-line"),
        pytest.param(GOLDEN_NOTE.replace("\n", "\r\n"), id="crlf"),
        pytest.param(GOLDEN_NOTE + "Unexpected line.\n", id="unexpected-line"),
        pytest.param(GOLDEN_NOTE.replace(DASH, "-"), id="hyphen-not-em-dash"),
        pytest.param(GOLDEN_NOTE.replace(DASH, "\u2013"), id="en-dash"),
        pytest.param(GOLDEN_NOTE.replace(f"{DASH} ", DASH), id="no-space-after-dash"),
        pytest.param(GOLDEN_NOTE.replace(f"{NAME} L", f"{NAME}  L"), id="two-spaces"),
        pytest.param(GOLDEN_NOTE.replace(f"{NAME} L", f"{NAME}\tL"), id="tab-separator"),
        pytest.param(GOLDEN_NOTE.replace(f"{DASH} {NAME}", f"{DASH} "), id="empty-name"),
        pytest.param(GOLDEN_NOTE.replace(f"{DASH} {NAME}", f"{DASH} a+b"), id="plus-in-name"),
        pytest.param(GOLDEN_NOTE.replace(f" {_SIG_B64}", ""), id="no-signature-data"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64 + " x"), id="trailing-field"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64[:-1]), id="bad-padding"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64.rstrip("=")), id="unpadded"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64 + "=="), id="extra-padding"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64[:-2] + "N="), id="non-canonical"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64[:-4] + "**=="), id="non-alphabet"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, "AAAAAA=="), id="key-id-only"),
        pytest.param(GOLDEN_NOTE.replace(_SIG_B64, _SIG_B64[:-6]), id="truncated-base64"),
        pytest.param("\x01" + GOLDEN_NOTE, id="control-char-soh"),
        pytest.param(GOLDEN_NOTE.replace("1337", "13\x0037"), id="nul"),
        pytest.param(GOLDEN_NOTE.replace("1337", "1337\t"), id="tab"),
        pytest.param(GOLDEN_NOTE.replace("1337", "1337\x1b[0m"), id="escape"),
        pytest.param(GOLDEN_NOTE.replace("1337", "1337\ud800"), id="lone-surrogate"),
        pytest.param(b"\xff" + GOLDEN_NOTE.encode(), id="invalid-utf8"),
        pytest.param(GOLDEN_NOTE.encode().replace(b"1337", b"13\xc0\xb137"), id="overlong-utf8"),
        pytest.param(
            GOLDEN_NOTE.encode().replace(b"1337", b"\xed\xa0\x80"), id="utf8-encoded-surrogate"
        ),
        pytest.param(GOLDEN_NOTE.encode("utf-16"), id="utf16"),
    ],
)
def test_malformed_notes_are_rejected(note: str | bytes) -> None:
    with pytest.raises(NoteError):
        SignedNote.parse(note)
    with pytest.raises(NoteError):
        verify_checkpoint(note, VKEY)


def test_non_canonical_signature_decodes_leniently() -> None:
    """Guards the case above: the lenient decoding is the real, valid signature."""
    assert base64.b64decode(_SIG_B64[:-2] + "N=") == base64.b64decode(_SIG_B64)


@pytest.mark.parametrize("keep", [4, 5, 8, 36, 67])
def test_truncated_signature_is_rejected(keep: int) -> None:
    truncated = base64.b64encode(base64.b64decode(_SIG_B64)[:keep]).decode()
    note = GOLDEN_NOTE.replace(_SIG_B64, truncated)
    assert note != GOLDEN_NOTE
    with pytest.raises(NoteError):
        verify_checkpoint(note, VKEY)


def test_signature_count_and_size_limits() -> None:
    enough = _GOOD_TEXT + "\n" + _GOOD_SIG * MAX_SIGNATURES
    assert len(SignedNote.parse(enough).signatures) == MAX_SIGNATURES
    verify_checkpoint(enough, VKEY)
    with pytest.raises(NoteError, match="more than"):
        SignedNote.parse(enough + _GOOD_SIG)
    huge = "x" * MAX_NOTE_BYTES + "\n\n" + _GOOD_SIG
    with pytest.raises(NoteError, match="larger than"):
        SignedNote.parse(huge)
    with pytest.raises(NoteError, match="larger than"):
        SignedNote.parse(huge.encode())
    multibyte = (
        "\u1ec7" * (MAX_NOTE_BYTES // 3 + 1) + "\n\n" + _GOOD_SIG
    )  # under the limit in characters
    with pytest.raises(NoteError, match="larger than"):
        SignedNote.parse(multibyte)
    almost = "x" * (MAX_NOTE_BYTES - 10) + "\n"
    with pytest.raises(NoteError, match="larger than"):
        sign_note(almost, KEY)  # the text fits, the note it would render does not


def test_signing_refuses_text_that_could_not_be_parsed_back() -> None:
    for text in ("no newline", "ctrl\x07\n", "", "surrogate\udc80\n"):
        with pytest.raises(NoteError):
            sign_note(text, KEY)
    with pytest.raises(NoteError):
        SignedNote("text\n", ())
    with pytest.raises(NoteError):
        NoteSignature("bad name", b"\0" * 4, b"sig")
    with pytest.raises(NoteError):
        NoteSignature(NAME, b"\0" * 3, b"sig")
    with pytest.raises(NoteError):
        NoteSignature(NAME, b"\0" * 4, b"")


def test_note_errors_are_ledger_errors() -> None:
    assert issubclass(NoteError, LedgerError)


# --- tampering --------------------------------------------------------------------------


def test_every_single_bit_flip_fails() -> None:
    raw = GOLDEN_NOTE.encode()
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(NoteError):
            verify_checkpoint(bytes(flipped), VKEY)


_text_chars = st.characters(min_codepoint=0x20, exclude_categories=["Cs"]) | st.just("\n")
_texts = st.text(_text_chars, max_size=300).map(lambda s: s + "\n")


@given(text=_texts)
def test_random_text_bodies_round_trip(text: str) -> None:
    note = sign_note(text, KEY).render()
    parsed = SignedNote.parse(note)
    assert parsed.text == text
    assert parsed.render() == note
    parsed.verify(VKEY)
    SignedNote.parse(note.encode("utf-8")).verify(VKEY)


_origins = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)
_lines = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@given(
    origin=_origins,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_lines, max_size=3).map(tuple),
)
def test_random_checkpoints_round_trip(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.from_text(checkpoint.text()) == checkpoint


_mutation = st.tuples(
    st.sampled_from(["replace", "insert", "delete"]),
    st.integers(min_value=0),
    st.sampled_from(["\n", " ", "=", "+", "/", "A", "a", "0", DASH, "\u1ec7", "\t", "\x00"])
    | st.characters(),
)


@given(mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_random_mutations_never_verify(mutations: list[tuple[str, int, str]]) -> None:
    note = GOLDEN_NOTE
    for kind, position, char in mutations:
        i = position % (len(note) + (kind == "insert"))
        if kind == "replace":
            note = note[:i] + char + note[i + 1 :]
        elif kind == "insert":
            note = note[:i] + char + note[i:]
        else:
            note = note[:i] + note[i + 1 :]
    assume(note != GOLDEN_NOTE)
    with pytest.raises(NoteError):
        verify_checkpoint(note, VKEY)
