"""Decoding by evidence (issue 14, hole 1): no prefix, byte-order mark or declared
charset lets a registered excerpt through as noise, and honest encodings stay quiet."""

from __future__ import annotations

import codecs

import io
import zipfile
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dlp.extract import EXTRACTORS, Context, walk
from dlp.extract.decoding import decode, printable_runs
from dlp.frontends.cli import Env, main
from dlp.types import Action, Destination, Item, Part, Problem

from helpers import prose, scanner_with, words

SECRET = " ".join(words(400, seed=14))
EXCERPT = " ".join(SECRET.split()[120:180])  # 60 words
ASCII = EXCERPT.encode()


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return scanner_with(tmp_path_factory.mktemp("decoding"), {"plan": SECRET})


def readable(decoded) -> str:
    """Everything the scanner reads of a decoding: the text and the printable runs."""
    return decoded.text + "\n" + decoded.strings


# --- honest encodings: read exactly, no doubt ---------------------------------------

HONEST = {
    "utf-8": (ASCII, "utf-8"),
    "utf-8 with BOM": (b"\xef\xbb\xbf" + "Café — naïve".encode() + ASCII, "utf-8"),
    "utf-16le with BOM": (b"\xff\xfe" + EXCERPT.encode("utf-16-le"), "utf-16-le"),
    "utf-16be with BOM": (b"\xfe\xff" + EXCERPT.encode("utf-16-be"), "utf-16-be"),
    "utf-32le with BOM": (b"\xff\xfe\x00\x00" + EXCERPT.encode("utf-32-le"), "utf-32-le"),
    "utf-32be with BOM": (b"\x00\x00\xfe\xff" + EXCERPT.encode("utf-32-be"), "utf-32-be"),
    "utf-16le without BOM": (EXCERPT.encode("utf-16-le"), "utf-16-le"),
    "utf-16be without BOM": (EXCERPT.encode("utf-16-be"), "utf-16-be"),
    "utf-32le without BOM": (EXCERPT.encode("utf-32-le"), "utf-32-le"),
    "utf-32be without BOM": (EXCERPT.encode("utf-32-be"), "utf-32-be"),
    "chinese utf-16le with BOM": (b"\xff\xfe" + ("这是一份关于新型涂料配方的保密文件。" * 30).encode("utf-16-le"), "utf-16-le"),
}


@pytest.mark.parametrize("name", HONEST)
def test_honest_encodings_are_read_without_doubt(name):
    data, encoding = HONEST[name]
    decoded = decode(data)
    assert decoded.encoding == encoding and decoded.doubt == ""
    if "chinese" in name:
        assert decoded.text.startswith("这是一份")
    else:
        assert " ".join(decoded.text.split()).endswith(EXCERPT)


def test_legacy_code_page_is_guessed():
    text = "Le café de la Société générale à Besançon reçoit l'équipe d'ingénieurs. " * 8
    decoded = decode(text.encode("cp1252"))
    assert decoded.text == text and decoded.doubt == ""


def test_plain_utf8_takes_the_fast_path():
    decoded = decode(ASCII * 100)
    assert decoded.encoding == "utf-8" and decoded.doubt == "" and decoded.strings == ""


@pytest.mark.parametrize("charset, data", [
    ("iso-2022-jp", "日本語の機密文書です。".encode("iso-2022-jp")),
    ("utf-16", "Déclaration confidentielle".encode("utf-16")),
    ("windows-1252", "Société générale".encode("cp1252")),
])
def test_declared_charsets_that_fit_are_believed(charset, data):
    decoded = decode(data, charset)
    assert decoded.doubt == "" and decoded.text == data.decode(charset)


def test_binary_is_not_text():
    assert decode(bytes(range(256)) * 40) is None


# --- hostile: claims that do not fit ------------------------------------------------

HOSTILE = {
    "FF FE then ASCII": (b"\xff\xfe" + ASCII, "UTF-16-LE byte-order mark"),
    "FE FF then ASCII": (b"\xfe\xff" + ASCII, "UTF-16-BE byte-order mark"),
    "FF FE 00 00 then ASCII": (b"\xff\xfe\x00\x00" + ASCII, "UTF-32-LE byte-order mark"),
    "00 00 FE FF then ASCII": (b"\x00\x00\xfe\xff" + ASCII, "UTF-32-BE byte-order mark"),
    "FF FE, ASCII, a stray byte": (b"\xff\xfe" + ASCII + b"\x80", "UTF-16-LE byte-order mark"),
    "UTF-16 inside UTF-8": (prose(400, 1).encode() + EXCERPT.encode("utf-16-le") + prose(50, 2).encode(), "wide"),
    "UTF-32 inside UTF-8": (prose(400, 1).encode() + EXCERPT.encode("utf-32-be") + prose(50, 2).encode(), "wide"),
    "ASCII after UTF-16": (b"\xff\xfe" + prose(200, 3).encode("utf-16-le") + b" " + ASCII + b" ", "ASCII text hidden"),
    "UTF-8 BOM then Latin-1": (codecs.BOM_UTF8 + ("Le procédé à très basse température, déjà éprouvé. " * 8 + EXCERPT)
                               .encode("latin-1"), "UTF-8 byte-order mark does not fit"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_claim_that_does_not_fit_is_doubtful_and_the_excerpt_is_read(name):
    data, why = HOSTILE[name]
    decoded = decode(data)
    assert why in decoded.doubt
    assert EXCERPT in " ".join(readable(decoded).split())


@pytest.mark.parametrize("charset", ["utf-16", "utf-16-le", "utf-32", "cp037", "utf-7"])
def test_a_declared_charset_cannot_turn_ascii_into_noise(charset):
    decoded = decode(b"\r\n" + ASCII + b"\r\n", charset)
    assert EXCERPT in " ".join(readable(decoded).split())


def test_printable_runs_in_every_byte_encoding():
    blob = b"\x00\x01\x02\x03" * 8
    pieces = {"utf-8": "ünïcode-run", "latin-1": "lätin text, façade", "utf-16-le": "wide-le-run", "utf-16-be": "wide-be-run",
              "utf-32-le": "quad-le-run", "utf-32-be": "quad-be-run"}
    data = blob + blob.join(text.encode(enc) for enc, text in pieces.items()) + blob
    runs = printable_runs(data).split("\n")
    for text in pieces.values():
        assert text in runs
    assert len(runs) == len(pieces)  # no run repeated in a second encoding


def test_doubtful_text_file_yields_a_problem_and_a_strings_part():
    outputs = list(walk(Item(locator="x.txt", name="x.txt", data=b"\xff\xfe" + ASCII), EXTRACTORS, Context()))
    problems = [o for o in outputs if isinstance(o, Problem)]
    assert [(p.kind, p.locator) for p in problems] == [("doubtful_encoding", "x.txt")]
    (part,) = [o for o in outputs if isinstance(o, Part)]
    assert part.text == EXCERPT  # the BOM is ignored, the rest is UTF-8


# --- through the scanner and its front ends -----------------------------------------


@settings(max_examples=int(__import__("os").environ.get("DLP_PROPERTY_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.binary(min_size=1, max_size=4),
    start=st.integers(min_value=0, max_value=300),
    length=st.integers(min_value=25, max_value=90),
    encoding=st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]),
)
def test_any_prefix_leaves_a_registered_excerpt_blocked(scanner, prefix, start, length, encoding):
    excerpt = " ".join(SECRET.split()[start:start + length])
    report = scanner.scan_bytes(prefix + excerpt.encode(encoding), "leak.txt")
    assert report.action is Action.BLOCK, (prefix, encoding, [p.to_dict() for p in report.problems])


def test_doubtful_encoding_is_unscannable_for_outbound_channels(scanner):
    data = b"\xff\xfe" + prose(80, 9).encode()
    assert scanner.scan_bytes(data, "x.txt", Destination(channel="mail")).action is Action.QUARANTINE
    assert scanner.scan_bytes(data, "x.txt").action is Action.WARN
    assert scanner.scan_bytes(prose(80, 9).encode(), "x.txt", Destination(channel="mail")).action is Action.ALLOW


@pytest.mark.parametrize("prefix", [b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"])
def test_cli_blocks_a_prefixed_excerpt(tmp_path, prefix):
    (tmp_path / "secret.txt").write_text(SECRET)
    leak = tmp_path / "x.txt"
    leak.write_bytes(prefix + ASCII)
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdout=out, stderr=err, stdin=io.TextIOWrapper(io.BytesIO(b"")), environ={})
    registry = ["--registry", str(tmp_path / "reg")]
    assert main([*registry, "register", str(tmp_path / "secret.txt")], env) == 0, err.getvalue()
    assert main([*registry, "scan", str(leak)], env) == 1
    assert any(line.startswith("BLOCK") for line in out.getvalue().splitlines())
    assert "doubtful_encoding" in out.getvalue()


def test_zip_member_with_a_prefix_is_blocked(scanner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes/x.txt", b"\xff\xfe" + ASCII)
    report = scanner.scan_bytes(buffer.getvalue(), "out.zip", Destination(channel="mail"))
    assert report.action is Action.BLOCK
    assert {f.locator for f in report.findings} == {"out.zip!/notes/x.txt"}


def test_eml_attachment_and_lying_body_charset_are_blocked(scanner):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@partner.example", "notes"
    message.set_content("See attached.")
    message.add_attachment(b"\xfe\xff" + ASCII, maintype="text", subtype="plain", filename="x.txt")
    report = scanner.scan_bytes(message.as_bytes(), "m.eml", Destination(channel="mail"))
    assert report.action is Action.BLOCK
    assert any(f.locator == "m.eml!/attachments/x.txt" for f in report.findings)

    lying = (b"From: a@example.com\r\nTo: b@partner.example\r\nSubject: q\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + ASCII + b"\r\n")
    report = scanner.scan_bytes(lying, "lying.eml", Destination(channel="mail"))
    assert report.action is Action.BLOCK
    assert "doubtful_encoding" in {p.kind for p in report.problems}


def _chunks(text: str, size: int) -> bytes:
    """The text in chunks of `size` words, each in the next of five byte encodings."""
    encodings = ["utf-8", "utf-16-le", "utf-32-be", "utf-16-be", "utf-32-le"]
    split = text.split()
    return b"".join((" ".join(split[i:i + size]) + " ").encode(encodings[(i // size) % 5])
                    for i in range(0, len(split), size))


ODD_ENCODINGS = {
    "UTF-8 BOM, then UTF-16BE": b"\xef\xbb\xbf" + EXCERPT.encode("utf-16-be"),
    "UTF-16LE BOM, then cp1252": b"\xff\xfe" + (EXCERPT + " café").encode("cp1252"),
    "UTF-32LE BOM, then UTF-16LE": b"\xff\xfe\x00\x00" + EXCERPT.encode("utf-16-le"),
    "two UTF-16LE BOMs": b"\xff\xfe\xff\xfe" + EXCERPT.encode("utf-16-le"),
    "UTF-7 with its BOM": b"+/v8" + EXCERPT.encode("utf-7"),
    "EBCDIC (cp037)": EXCERPT.encode("cp037"),
    "encoding switched every 6 words": _chunks(EXCERPT, 6),
    "encoding switched every 10 words": _chunks(EXCERPT, 10),
}


@pytest.mark.parametrize("name", ODD_ENCODINGS)
def test_odd_encodings_are_blocked(scanner, name):
    report = scanner.scan_bytes(ODD_ENCODINGS[name], "x.txt", Destination(channel="mail"))
    assert report.action is Action.BLOCK, [p.to_dict() for p in report.problems]


def test_printable_runs_of_a_long_word_with_high_bytes_around_stay_linear():
    from dlp.extract.decoding import printable_strings

    data = b"\xe9\x00\x01" + b"A" * 1_000_000 + b" caf\xe9 na\xefve r\xe9sum\xe9"
    runs = printable_strings(data)  # the Latin-1 pattern restarted inside the word: quadratic, minutes
    assert "A" * 1_000_000 in runs and "résumé" in runs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9),
                          st.sampled_from([b"", b"", b"", b"\xad", b"\xe9", b"\xfc"])), min_size=1, max_size=30))
def test_single_latin1_bytes_in_ascii_text_read_as_windows_1252(pairs):
    """A few non-ASCII bytes (here under 4% of the text), each alone inside an ASCII word, are a
    Latin-1 character (a soft hyphen shows as nothing), never a replacement character or half
    of a multi-byte script's character."""
    pad = (EXCERPT + "\n") * 2
    data = pad.encode() + b" ".join(w[:1].encode() + b + w[1:].encode() for w, b in pairs)
    decoded = decode(data)
    assert decoded is not None and decoded.text == data.decode("cp1252")


CHINESE = ("本公司的涂层工艺配方包括以下成分和比例，这些信息属于商业秘密，不得向第三方披露。"
           "我们的研发团队经过多年努力才完成了这一配方的优化工作，任何泄露都将造成重大损失。")
JAPANESE = ("当社のコーティング工程では、エポキシ樹脂に亜鉛リン酸塩を加え、ミキサーが二段目の速度に"
            "達する前に混合します。この情報は営業秘密であり、第三者への開示を禁じます。")


THAI = "บริษัทของเราได้พัฒนาสูตรการเคลือบผิวแบบพิเศษซึ่งเป็นความลับทางการค้าและห้ามเปิดเผยต่อบุคคลภายนอกโดยเด็ดขาด"
KHMER = "ក្រុមហ៊ុនរបស់យើងបានអភិវឌ្ឍរូបមន្តពិសេសដែលជាអាថ៌កំបាំងពាណិជ្ជកម្ម"


RUSSIAN = "Технология покрытия предусматривает добавление фосфата цинка к эпоксидной основе до того как смеситель"
ARABIC = "تتضمن تقنية الطلاء إضافة فوسفات الزنك إلى قاعدة الإيبوكسي قبل أن يصل الخلاط إلى السرعة الثانية"
KOREAN = "우리 회사의 코팅 공정 배합은 영업 비밀이며 제3자에게 공개해서는 안 됩니다. 연구 개발 팀이 노력했습니다."


@pytest.mark.parametrize("text", [CHINESE, JAPANESE, THAI, KHMER, RUSSIAN, ARABIC, KOREAN])
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_non_latin_text_in_utf16_without_a_mark_is_text(text, codec):
    """No NUL byte points at them (NULs come with Latin letters; the blanks of Russian or Korean
    are too few) and, for Chinese, no blank: they were read as binary, their printable runs
    (none) scanned, and an excerpt of a registered document saved as UTF-16 left unread."""
    decoded = decode(text.encode(codec))
    assert decoded is not None and decoded.text == text and not decoded.doubt


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["cp1252", "latin-1", "ascii"]), st.integers(0, 1))
def test_text_in_a_byte_encoding_is_never_read_as_utf16(seed, codec, shift):
    """English read two bytes at a time makes "ideographs" (four fifths of its code units are
    U+2000 to U+7EFF): it must be read as what it is, or as binary, never as Chinese."""
    text = ("x" * shift + prose(200, seed) + " café naïve déjà").encode(codec, errors="replace")
    text = text[: len(text) // 2 * 2]
    decoded = decode(text)
    assert decoded is None or not decoded.encoding.lower().replace("_", "-").startswith("utf-16")


def test_random_bytes_are_not_read_as_utf16_chinese():
    rng = __import__("random").Random(7)
    for size in (64, 80, 128, 1024) * 500:
        decoded = decode(bytes(rng.randrange(256) for _ in range(size)))
        assert decoded is None or not decoded.encoding.lower().startswith("utf-16"), size


KOREAN_NOTE = ("당사의 코팅 공정에서는 에폭시 수지에 인산아연을 첨가하고 믹서가 두 번째 속도에 도달하기 전에 "
               "혼합합니다. 이 정보는 영업 비밀이며 제3자에게 공개하는 것을 금지합니다.")


@pytest.mark.parametrize("text", [KOREAN_NOTE, "Hello team,\n" + KOREAN_NOTE + "\nThanks, John 2024-05-01 +1 555 0100\n"])
def test_iso_2022_kr_is_read_as_korean(text):
    """ISO-2022-KR shifts in and out of KS X 1001 with SO and SI: the control bytes made the
    file binary, and a Korean excerpt saved so went unread."""
    decoded = decode(text.encode("iso2022_kr"))
    assert decoded is not None and decoded.encoding == "iso2022_kr" and decoded.text == text and not decoded.doubt


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=300), st.binary(min_size=0, max_size=300))
def test_random_bytes_with_the_iso_2022_kr_marks_stay_binary(before, after):
    decoded = decode(before + b"\x1b$)C" + after[:50] + b"\x0e" + after[50:])
    assert decoded is None or decoded.encoding != "iso2022_kr"


@pytest.mark.parametrize("mark,encoding", [(codecs.BOM_UTF16_BE, "utf-16-le"), (codecs.BOM_UTF16_LE, "utf-16-be")])
def test_a_mark_of_the_other_byte_order_is_not_believed(scanner, mark, encoding):
    """Little-endian text behind a big-endian mark read cleanly as ideographs ("瀀漀渀" for
    "pon"): no doubt, no finding, allowed (found by a property test of this stop). The NULs say
    which order it is; the mark is a doubt."""
    excerpt = " ".join(SECRET.split()[10:50])
    decoded = decode(mark + excerpt.encode(encoding))
    assert decoded.encoding == encoding and decoded.text == excerpt and decoded.doubt
    assert scanner.scan_bytes(mark + excerpt.encode(encoding), "leak.txt").action is Action.BLOCK
