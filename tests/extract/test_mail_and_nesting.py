"""Mail (eml, mbox, Maildir) and secrets planted at depth, found with their full locator."""

from __future__ import annotations

import base64
import mailbox
from email.message import EmailMessage

import pytest

from dlp.extract import EXTRACTORS, Context, expand_path, walk
from dlp.types import Item, Part, Problem

from . import builders as b
from .test_formats import MARK, extract, found


def scan(path) -> list[Part | Problem]:
    (item,) = expand_path(str(path))
    return list(walk(item, EXTRACTORS, Context()))


def test_docx_in_zip_in_mail_in_mbox(tmp_path):
    docx = b.docx_by_parts({"word/document.xml": b.run("forecast " + MARK)})
    plan = b.zip_of({"q3/forecast.docx": docx})
    box = mailbox.mbox(tmp_path / "export.mbox")
    box.add(b.mail("nothing here"))
    box.add(b.mail("see attached", {"plan.zip": plan}))
    box.flush()
    outputs = scan(tmp_path / "export.mbox")
    (hit,) = found(outputs)
    assert hit.locator == f"{tmp_path}/export.mbox!/message[2]/attachments/plan.zip!/q3/forecast.docx"
    assert not [o for o in outputs if isinstance(o, Problem)]


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "8bit"])
@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", "koi8-r"])
def test_body_encodings_and_charsets(cte, charset):
    accent = {"utf-8": "é", "iso-8859-1": "é", "koi8-r": "ж"}[charset]
    message = b.mail(f"{accent} {MARK} {accent}", charset=charset, cte=cte)
    outputs = extract(message.as_bytes(), "m.eml")
    (hit,) = found(outputs)
    assert hit.locator == "m.eml!/body" and f"{accent} {MARK} {accent}" in hit.text


def test_headers_go_to_meta():
    outputs = extract(b.mail("x", subject="=?utf-8?q?Pr=C3=A9vision?= Q3").as_bytes(), "m.eml")
    headers = next(o for o in outputs if o.locator == "m.eml!/headers")
    assert headers.text.startswith("Subject: Prévision Q3\n")  # then the other headers, addresses left out
    assert "@" not in headers.text and "\nAlice\n" in headers.text
    meta = headers.meta["mail"]
    assert meta["from"] == "alice@example.com"
    assert meta["to"] == ("bob@partner.example", "carol@example.org")
    assert meta["cc"] == ("dave@example.com",)
    assert meta["message-id"] == "<m1@example.com>" and meta["date"].startswith("Tue")


def test_nested_message_rfc822_with_attachment():
    inner = b.mail("inner body " + MARK, {"secret.txt": MARK.encode()})
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = "a@example.com", "b@example.com", "Fwd"
    outer.set_content("see forwarded")
    outer.add_attachment(inner, filename="fwd.eml")
    locators = sorted(p.locator for p in found(extract(outer.as_bytes(), "m.eml")))
    assert locators == ["m.eml!/attachments/fwd.eml!/attachments/secret.txt", "m.eml!/attachments/fwd.eml!/body"]


def test_html_only_body_and_pdf_attachment():
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "html"
    message.set_content(f"<html><body><b>{MARK}</b></body></html>", subtype="html")
    message.add_attachment(b.pdf("pdf " + MARK), maintype="application", subtype="pdf", filename="r.pdf")
    locators = sorted(p.locator for p in found(extract(message.as_bytes(), "m.eml")))
    assert locators == ["m.eml!/attachments/r.pdf", "m.eml!/body"]


def test_uuencoded_and_unnamed_attachment():
    raw = (
        "From: a@example.com\nTo: b@example.com\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nhello\n'
        "--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(MARK.encode()).decode() + "--B--\n"
    ).encode()
    (hit,) = found(extract(raw, "m.eml"))
    assert hit.locator == "m.eml!/attachments/part[1].bin"


def test_pgp_encrypted_mail_is_reported():
    raw = (
        "From: a@example.com\nTo: b@example.com\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="B"\n\n'
        "--B\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--B\nContent-Type: application/octet-stream\n\n"
        "-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n--B--\n"
    ).encode()
    assert [o.kind for o in extract(raw, "m.eml") if isinstance(o, Problem)] == ["encrypted"]


def test_maildir_is_one_item(tmp_path):
    box = mailbox.Maildir(tmp_path / "Mail")
    box.add(b.mail("first"))
    key = box.add(b.mail("second " + MARK))
    (item,) = expand_path(str(tmp_path / "Mail"))
    assert item.path == str(tmp_path / "Mail")
    (hit,) = found(walk(item, EXTRACTORS, Context()))
    assert hit.locator == f"{tmp_path}/Mail!/new/{key}/body"


def test_expand_path_on_a_plain_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "b.txt").write_text("b")
    mailbox.Maildir(tmp_path / "a" / "box").add(b.mail("m"))
    locators = [item.locator for item in expand_path(str(tmp_path))]
    assert locators == [f"{tmp_path}/a/box", f"{tmp_path}/a/x.txt", f"{tmp_path}/b.txt"]


def test_enron_style_raw_message_without_mime(tmp_path):
    raw = b"Message-ID: <1.JavaMail.evans@thyme>\nDate: Mon, 14 May 2001 16:39:00 -0700 (PDT)\n" \
          b"From: phillip.allen@enron.com\nTo: tim.belden@enron.com\nSubject: \n\n" + MARK.encode() + b"\n"
    (tmp_path / "1.").write_bytes(raw)
    (hit,) = found(scan(tmp_path / "1."))
    assert hit.locator == f"{tmp_path}/1.!/body" and hit.meta["mail"]["to"] == ("tim.belden@enron.com",)


def test_depth_limit_stops_nesting_and_reports_it():
    data = MARK.encode()
    for level in range(12):
        data = b.zip_of({f"l{level}.zip" if level else "s.txt": data})
    outputs = extract(data, "deep.zip")
    assert [o.kind for o in outputs if isinstance(o, Problem)] == ["too_deep"]
    assert not found(outputs)


def test_walk_item_from_path_and_from_bytes_agree(tmp_path):
    data = b.zip_of({"a.txt": MARK.encode()})
    (tmp_path / "a.zip").write_bytes(data)
    from_path = [(o.locator.rsplit("/", 1)[-1], o.text) for o in scan(tmp_path / "a.zip")]
    from_bytes = [(o.locator.rsplit("/", 1)[-1], o.text) for o in extract(data, "a.zip")]
    assert from_path == from_bytes


def test_outputs_are_values():
    part = extract(b"plain " + MARK.encode(), "t.txt")[0]
    assert isinstance(part, Part) and part == Part("t.txt", "plain " + MARK, "text")
    assert Item(locator="x", name="x", data=b"").size == 0
