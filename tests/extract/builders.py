"""Real files made with real libraries (zipfile, tarfile, email, mailbox, python-docx,
reportlab), each carrying a marker string where a leak would hide."""

from __future__ import annotations

import io
import tarfile
import zipfile
from email.message import EmailMessage

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)


def docx_with_python_docx(body: str, header: str = "", table: str = "") -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(body)
    if table:
        document.add_table(rows=1, cols=2).rows[0].cells[1].text = table
    if header:
        document.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _w(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}" ' \
           'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">' \
           f"<w:body>{body}</w:body></w:document>"


def docx_by_parts(stories: dict[str, str], extra: dict[str, bytes] | None = None, prolog: str = "") -> bytes:
    """A DOCX whose word/*.xml parts are given as WordprocessingML fragments."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        for name, body in stories.items():
            root = "w:document" if name == "word/document.xml" else "w:root"
            xml = _w(body) if root == "w:document" else (
                f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<w:ftr xmlns:w="{W}">{body}</w:ftr>'
            )
            if prolog and root == "w:document":
                xml = xml.replace("?>", "?>" + prolog, 1)
            archive.writestr(name, xml)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def run(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def xlsx(shared: list[str], rows: list[list[str | int]], sheet_name: str = "Plan") -> bytes:
    """A minimal real XLSX: shared strings referenced by index, inline strings, numbers."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    cells = []
    for r, row in enumerate(rows, start=1):
        out = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, int):
                out.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif value.startswith("@"):
                out.append(f'<c r="{ref}" t="s"><v>{shared.index(value[1:])}</v></c>')
            else:
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
        cells.append(f'<row r="{r}">{"".join(out)}</row>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
                         f'<sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels",
                         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                         '<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="x"/></Relationships>')
        archive.writestr("xl/sharedStrings.xml",
                         f'<sst xmlns="{ns}">' + "".join(f"<si><t>{s}</t></si>" for s in shared) + "</sst>")
        archive.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{ns}"><sheetData>{"".join(cells)}</sheetData></worksheet>')
    return buffer.getvalue()


def pptx(slides: list[str], notes: str = "") -> bytes:
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("ppt/presentation.xml", "<presentation/>")
        for number, text in enumerate(slides, start=1):
            archive.writestr(f"ppt/slides/slide{number}.xml",
                             f'<sld xmlns:a="{a}"><a:p><a:r><a:t>{text}</a:t></a:r></a:p></sld>')
        if notes:
            archive.writestr("ppt/notesSlides/notesSlide1.xml",
                             f'<notes xmlns:a="{a}"><a:p><a:r><a:t>{notes}</a:t></a:r></a:p></notes>')
    return buffer.getvalue()


def odt(body: str, header: str = "", encrypted: bool = False) -> bytes:
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    style = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        manifest = "<manifest>" + ("<file-entry><encryption-data/></file-entry>" if encrypted else "") + "</manifest>"
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", f'<office:document-content xmlns:office="{office}" xmlns:text="{text}">'
                         f"<office:body><office:text><text:p>{body}</text:p></office:text></office:body>"
                         "</office:document-content>")
        archive.writestr("styles.xml", f'<office:document-styles xmlns:office="{office}" xmlns:text="{text}" '
                         f'xmlns:style="{style}"><office:master-styles><style:master-page><style:header>'
                         f"<text:p>{header}</text:p></style:header></style:master-page></office:master-styles>"
                         "</office:document-styles>")
    return buffer.getvalue()


def zip_of(members: dict[str, bytes], **options) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, **options) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def mail(body: str, attachments: dict[str, bytes] | None = None, *, subject: str = "Q3",
         charset: str = "utf-8", cte: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@partner.example, Carol <carol@example.org>"
    message["Cc"] = "dave@example.com"
    message["Subject"] = subject
    message["Message-ID"] = "<m1@example.com>"
    message["Date"] = "Tue, 1 Oct 2024 10:00:00 +0000"
    message.set_content(body, charset=charset, cte=cte)
    for name, data in (attachments or {}).items():
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message


def pdf(text: str, annotation: str = "", field_value: str = "") -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    if annotation:
        page.textAnnotation(annotation, Rect=(72, 600, 200, 650))
    if field_value:
        page.acroForm.textfield(name="account", value=field_value, x=72, y=500, width=200, height=20)
    page.showPage()
    page.save()
    return buffer.getvalue()
