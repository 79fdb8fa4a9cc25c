#!/usr/bin/env python3
"""Generate examples/outbox/, the dozen outbound files the dlp demo scans.

Some of them leak material from examples/secrets, examples/records and
examples/terms; the others are clean, several of them on the same subject.
README.md in this directory lists the verdict each file is meant to get.

Everything here is fictional and was written for the dlp demo. The output is
deterministic: DOCX files get fixed properties and zip timestamps, PDFs are
written in reportlab's invariant mode. Requires python-docx and reportlab.

Run from anywhere: python examples/make_outbox.py
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import sys
import unicodedata

import docx
from docx.shared import Pt
from reportlab import rl_config

rl_config.invariant = 1  # fixed IDs and dates, so the same input gives the same PDF bytes

from reportlab.lib.enums import TA_LEFT  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUTBOX = os.path.join(HERE, "outbox")
sys.path.insert(0, HERE)

from make_design_spec import FOOTER, deterministic_zip  # noqa: E402

FIXED_TIME = datetime.datetime(2024, 10, 2, 8, 30, 0)


# --------------------------------------------------------------------------- helpers

def tokens(text: str) -> list[str]:
    """Roughly dlp's normalisation: NFKC, case folding, runs of letters and digits."""
    return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).casefold())


def assert_verbatim(excerpt: str, source: str, what: str) -> None:
    """Fail loudly if a planted excerpt no longer occurs word for word in its secret."""
    needle, hay = " ".join(tokens(excerpt)), " ".join(tokens(source))
    if f" {needle} " not in f" {hay} ":
        raise SystemExit(f"make_outbox: the excerpt for {what} is no longer verbatim in its source")


def read(relpath: str) -> str:
    with open(os.path.join(HERE, relpath), encoding="utf-8") as handle:
        return handle.read()


def write_text(name: str, text: str, encoding: str = "utf-8") -> None:
    with open(os.path.join(OUTBOX, name), "w", encoding=encoding, newline="\n") as handle:
        handle.write(text)


def new_docx(title: str, author: str):
    document = docx.Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    props = document.core_properties
    props.title = title
    props.author = author
    props.last_modified_by = author
    props.revision = 1
    props.created = props.modified = props.last_printed = FIXED_TIME
    return document


def save_docx(document, name: str) -> None:
    with open(os.path.join(OUTBOX, name), "wb") as handle:
        handle.write(deterministic_zip(document))


def save_pdf(name: str, story, title: str, author: str, on_page=None) -> None:
    path = os.path.join(OUTBOX, name)
    doc = SimpleDocTemplate(
        path, pagesize=A4, title=title, author=author, subject="", creator="",
        leftMargin=22 * mm, rightMargin=22 * mm, topMargin=24 * mm, bottomMargin=20 * mm,
        invariant=1,
    )
    if on_page is None:
        doc.build(story)
    else:
        doc.build(story, onFirstPage=on_page, onLaterPages=on_page)


STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=STYLES["BodyText"], alignment=TA_LEFT, fontSize=10, leading=13.5)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8.5, leading=11)


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------- leaks

# 59 consecutive words of examples/secrets/formulation.md, section 6 (Rationale).
FORMULATION_PASTE = (
    "The molecular sieve goes in before the pigments because the zinc phosphate and the "
    "titanium dioxide carry enough adsorbed water to start hydrolysis of the methoxy groups "
    "inside the closed pail. Batches made the other way round gelled within five months, so "
    "shelf life is only guaranteed when the sieve has had its twenty minutes alone with the resin."
)


def partner_memo() -> None:
    """DOCX memo to the licensing partner, one paragraph pasted from the formulation."""
    assert_verbatim(FORMULATION_PASTE, read("secrets/formulation.md"), "the partner memo")
    d = new_docx("Storage stability of the offshore topcoat", "Sarah Whitcombe")
    d.add_heading("Memo", level=1)
    d.add_paragraph("To: Dr Alba Peñalver, Production Manager, Soltera Química S.A., Tarragona")
    d.add_paragraph("From: Sarah Whitcombe, Technical Service, Brackenridge Fenwick Coatings")
    d.add_paragraph("Date: 2 October 2024")
    d.add_paragraph("Subject: Gelled pails from your September trial batches")
    d.add_paragraph(
        "Thank you for sending the two retained pails back to Rotherham so quickly. We opened "
        "both in the laboratory on Monday. The skin on top is thin, but underneath the base has "
        "set to a rubbery mass that no amount of stirring will bring back, so neither pail can be "
        "rescued and the rest of those lots should be quarantined until we agree what to do."
    )
    d.add_paragraph(
        "Looking at the batch cards you attached, the order of additions at your plant differs "
        "from ours in one place, and I think that explains it. When I asked our laboratory why "
        "the order matters so much, they sent me the following explanation, which I copy here "
        "as they wrote it:"
    )
    d.add_paragraph(FORMULATION_PASTE)
    d.add_paragraph(
        "In short, please keep that step exactly as in the process sheet for the next trial, "
        "even if it costs your operators a little waiting time at the start of each batch. "
        "I would also suggest logging the humidity in the pigment store for a fortnight, since "
        "the bags stood next to an open loading door during the hot spell."
    )
    d.add_paragraph(
        "I can come to Tarragona in the week of 14 October to watch the first corrected batch. "
        "Let me know which day suits your shift pattern and I will book flights."
    )
    d.add_paragraph("Kind regards,\nSarah")
    save_docx(d, "memo-soltera-gelled-pails.docx")


def spec_pdf() -> None:
    """The design specification, reflowed into a PDF with the partner's page headers."""
    source = docx.Document(os.path.join(HERE, "secrets", "design-spec.docx"))
    paragraphs = [p for p in source.paragraphs if p.text.strip()]
    # A large part: everything from the title down to the end of section 5 (Safety).
    kept = []
    for p in paragraphs:
        if p.text.startswith("6. Acceptance tests"):
            break
        kept.append(p)
    assert len(kept) > 15, "design spec structure changed"

    story = [
        Paragraph("Dispensing cell for the Tarragona plant: specification received from BFC", STYLES["Title"]),
        Paragraph(
            "Copy prepared by Soltera Química Ingeniería for the internal review of 9 October 2024. "
            "Text re-typeset from the Word file received by e-mail; tables and figures omitted.",
            SMALL,
        ),
        Spacer(1, 6 * mm),
    ]
    for p in kept[1:]:  # the source title is replaced by ours
        style_name = p.style.name if p.style is not None else ""
        if style_name.startswith("Heading"):
            story.append(Paragraph(esc(p.text), STYLES["Heading3"]))
        elif "List" in style_name:
            story.append(Paragraph("• " + esc(p.text), BODY))
        else:
            story.append(Paragraph(esc(p.text), BODY))

    def header(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(22 * mm, A4[1] - 14 * mm, "Soltera Química S.A. · Ingeniería · Documentación recibida")
        canvas.drawRightString(A4[0] - 22 * mm, A4[1] - 14 * mm, f"Página {doc.page}")
        canvas.line(22 * mm, A4[1] - 16 * mm, A4[0] - 22 * mm, A4[1] - 16 * mm)
        canvas.restoreState()

    save_pdf("dispensing-cell-spec-review-copy.pdf", story, "Dispensing cell specification (review copy)",
             "Soltera Química Ingeniería", on_page=header)


# Three rows of examples/records/customers.csv among unrelated prospects.
LEAKED_CUSTOMER_IDS = ("BFC-C1006", "BFC-C1014", "BFC-C1032")


def crm_export() -> None:
    """A CRM pipeline export: mostly unrelated leads, three rows carry customer records."""
    with open(os.path.join(HERE, "records", "customers.csv"), encoding="utf-8", newline="") as handle:
        customers = {row["customer_id"]: row for row in csv.DictReader(handle)}
    prospects = [
        ("Ashby Grain Storage Ltd", "Colin Feather", "c.feather@ashby-grain.example.org", "+44 555 0201", "Qualified", "North", 18000),
        ("Ridgeway Bridge Maintenance", "Paula Okonjo", "paula.okonjo@ridgeway-bm.example.org", "+44 555 0202", "Proposal", "South", 42000),
        ("Lindqvist Tank & Silo AB", "Oskar Lindqvist", "oskar@lindqvist-tank.example.org", "+46 555 0203", "Contacted", "Nordics", 9000),
        ("Marlow Water Treatment", "Deepa Chandra", "d.chandra@marlow-wt.example.org", "+44 555 0204", "Qualified", "South", 27500),
        ("Velden Agrartechnik GmbH", "Stefan Auer", "s.auer@velden-agrar.example.org", "+49 555 0205", "Lost", "DACH", 12000),
    ]
    tail = [
        ("Kirkstall Rail Depot Services", "Amy Threlfall", "a.threlfall@kirkstall-rail.example.org", "+44 555 0206", "Contacted", "North", 15500),
        ("Pontevedra Depósitos SL", "Xoán Barreiro", "xbarreiro@pontevedra-depositos.example.org", "+34 555 0207", "Proposal", "Iberia", 33000),
        ("Tamar Estuary Ferries", "Nick Pengelly", "nick.pengelly@tamar-ferries.example.org", "+44 555 0208", "Qualified", "South", 21000),
        ("Osterholz Kläranlagen GmbH", "Birgit Lohmann", "b.lohmann@osterholz-ka.example.org", "+49 555 0209", "Contacted", "DACH", 8000),
        ("Fenland Pumping Stations", "Graham Tebbutt", "g.tebbutt@fenland-ps.example.org", "+44 555 0210", "Negotiation", "East", 56000),
        ("Alster Hafenbau GmbH", "Lena Witt", "lena.witt@alster-hafenbau.example.org", "+49 555 0211", "Qualified", "DACH", 24000),
    ]
    header = ["lead_id", "account_name", "contact_person", "email", "phone", "stage", "region",
              "est_value_eur", "last_activity", "next_step"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    n = 3400
    def lead(row, activity, step):
        nonlocal n
        n += 7
        writer.writerow([f"L-{n}", *row[:5], row[5], row[6], activity, step])
    for i, row in enumerate(prospects):
        lead(row, f"2024-09-{3 + 2 * i:02d}", "Send samples" if i % 2 else "Call back")
    for i, cid in enumerate(LEAKED_CUSTOMER_IDS):
        c = customers[cid]
        region = {"Netherlands": "Benelux", "UK": "North", "Spain": "Iberia"}.get(c["country"], "Other")
        lead((c["company"], c["contact"], c["email"], c["phone"], "Upsell", region, 61000 + 9000 * i),
             f"2024-09-{14 + i:02d}", "Renewal quote")
    for i, row in enumerate(tail):
        lead(row, f"2024-09-{18 + i:02d}", "Site visit" if i % 2 else "Send datasheet")
    write_text("crm-pipeline-export-2024-09.csv", out.getvalue())


def stand_note() -> None:
    """A plain note to the events agency that names one code name."""
    write_text("note-hamburg-stand-graphics.txt", """\
Notes for Priyanka (stand graphics), Hamburg offshore fair
----------------------------------------------------------

Hi Priyanka,

Thanks for the first proofs, they look great. A few changes before they go to print:

1. Back wall: please use the new photo of the jack-up vessel at sunrise instead of the
   harbour shot. The file is in the shared folder under "photos/2024".
2. The yellow on the counter panel should match RAL 1023, not the orange we had last year.
3. Product names on the screens: MarineShield 700 and ZincGuard 90 only. Please take
   "Project Halcyon" off the third slide - that name is internal and must not appear
   anywhere on the stand, the screens or the give-away leaflets.
4. Opening hours on the leaflet: 09:00 to 18:00, last day until 16:00.
5. We need 400 leaflets, not 250, and two spare banner stands.

Could you send revised proofs by Friday? I am out on Thursday afternoon but will check
mail in the evening.

Best,
Tom Ashworth
Marketing, Brackenridge Fenwick Coatings
""")


# 31 consecutive words of the comments in examples/secrets/mixing_controller.py.
CONTROLLER_QUOTE = (
    "# ...hardener rich and stays tacky for a week. The lag was\n"
    "# tuned on the Kirkby rig with a cold hose; a warm hose needs less, but we keep the\n"
    "# worst case..."
)


def forum_page() -> None:
    """A saved forum question that quotes a comment block from the controller source."""
    assert_verbatim(CONTROLLER_QUOTE, read("secrets/mixing_controller.py"), "the forum page")
    write_text("forum-gear-pump-staggered-start.html", f"""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Staggered start for two gear pumps feeding a static mixer? - Process Control Forum</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto}} pre{{background:#f4f4f4;padding:.6em}}</style>
</head>
<body>
<nav><a href="/">Process Control Forum</a> &rsaquo; <a href="/c/dosing">Dosing and mixing</a></nav>
<article>
<h1>Staggered start for two gear pumps feeding a static mixer?</h1>
<p class="meta">Asked by <b>tw_rotherham</b> &middot; 3 answers &middot; 412 views</p>
<p>We meter a two-pack coating through a static mixer with one servo gear pump per side.
Our supervisory code starts the curing-agent pump a little after the base pump, and a
comment in the code explains why:</p>
<pre>{esc(CONTROLLER_QUOTE)}</pre>
<p>My question: is a fixed delay the normal way to handle this, or do people ramp both
pumps on a shared flow setpoint and let the ratio loop sort it out? A fixed delay feels
fragile to me when the hose temperature changes through the day.</p>
<p>Any pointers to papers or vendor application notes welcome.</p>
</article>
<section class="answers">
<h2>3 Answers</h2>
<div class="answer"><p><b>mixmaster_k</b>: A fixed lag is common and perfectly fine as long as you
measure both flows. We schedule the lag on the inlet temperature with a small lookup table.</p></div>
<div class="answer"><p><b>plc_greta</b>: Look at your check valves first. A leaking one on the thin
side gives exactly the symptom you describe at start-up.</p></div>
<div class="answer"><p><b>anon</b>: Shared setpoint plus ratio loop works, but the loop needs
a few seconds of good data before it can trim, so you still dispense off-ratio at first.</p></div>
</section>
</body>
</html>
""")


# About 80 words of the design specification (section 3) with a word changed
# every 20 words or so: no verbatim run longer than 21 words.
SPEC_EDITED = (
    "Mixing takes place in a disposable static mixer with 24 helical elements, 16 millimetres "
    "in diameter. Trials with 18 blades left streaks of unreacted hardener visible under a UV "
    "lamp, and 32 elements pushed the pressure drop above 60 bar at maximum flow. The mixer is "
    "mounted vertically, outlet down, so that air bubbles rise back into the manifold and get "
    "vented there instead of ending up in the film as pinholes. The manifold carries a solvent "
    "flush port on each side."
)


def conference_abstract() -> None:
    """A conference abstract draft with a lightly edited excerpt of the specification."""
    write_text("conference-abstract-draft.md", f"""\
# Draft abstract: Machine metering of two-pack siloxane hybrids in fabrication yards

*For the European Protective Coatings Conference, Ghent, spring session. Limit 300 words.
Draft 2, T. Wade, not yet reviewed.*

Fabrication yards still mix many two-pack coatings by hand, and the results show it: soft
films, blistering and expensive repairs offshore. We describe a compact metering cell that
removes the human from the mixing step, and the lessons from its first year in production.

{SPEC_EDITED}

In twelve months of operation the cell dispensed more than 140 tonnes of mixed coating.
Complaints about uncured film dropped to zero, and solvent used for cleaning fell by about a
third because the mixer element is thrown away instead of flushed.

We close with practical advice for yards that want to adopt machine mixing: measure both
flows, heat the hoses, and never trust a ratio that is checked only at start-up.

**Keywords:** plural-component equipment, static mixing, offshore wind, quality control
""")


# --------------------------------------------------------------------------- clean files

def brochure() -> None:
    """Public product page: same subject and vocabulary, no copied text."""
    write_text("marineshield-700-product-page.html", """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>MarineShield 700 | Brackenridge Fenwick Coatings</title>
</head>
<body>
<header><h1>MarineShield 700</h1><p>One-coat protection for offshore wind foundations</p></header>
<main>
<p>Offshore foundations spend their working lives between the waves and the weather.
MarineShield 700 is a two-pack epoxy-polysiloxane finish that gives transition pieces,
boat landings and access platforms a hard, glossy surface in one application, even when
the yard is cold and the days are short.</p>
<h2>Why specifiers choose it</h2>
<ul>
<li><b>One coat instead of two.</b> Up to 200 &micro;m dry film thickness in a single pass
with airless spray equipment.</li>
<li><b>Cures in the cold.</b> Apply down to 5 &deg;C steel temperature and lift the section
the next morning.</li>
<li><b>Colour that lasts.</b> Safety yellow stays bright year after year, so platforms remain
easy to spot from a crew transfer vessel.</li>
<li><b>Fits proven systems.</b> Approved as the finish over our zinc-rich epoxy primers in
ISO 12944 C5 and CX systems.</li>
<li><b>Fewer solvents.</b> Replacing a three-coat polyurethane scheme cuts emissions and
booth time.</li>
</ul>
<h2>Support from the people who made it</h2>
<p>Our technical service engineers help with the first applications at your yard, from
surface preparation to inspection. Ask about machine mixing: we can recommend equipment
and train your painters.</p>
<p>Available in white, safety yellow and light grey, with other colours on request, in
20 litre kits.</p>
<p><a href="/datasheets/marineshield-700.pdf">Download the technical data sheet</a> &middot;
<a href="/contact">Talk to a coatings engineer</a></p>
</main>
<footer><p>&copy; 2024 Brackenridge Fenwick Coatings Ltd, Rotherham, United Kingdom</p></footer>
</body>
</html>
""")


def thanks_mail() -> None:
    """A thank-you mail that carries the company confidentiality footer and nothing else of note."""
    footer = FOOTER.replace("in whole or in part, ", "in whole or in part,\n")
    write_text("mail-thanks-soltera-visit.txt", f"""\
From: Sarah Whitcombe <s.whitcombe@bfcoatings.example>
To: Jordi Ferrer <jordi.ferrer@soltera-quimica.example>
Date: Mon, 23 Sep 2024 17:42:10 +0100
Subject: Thank you for last week

Dear Jordi,

I just wanted to say thank you to you and the whole team for looking after us so well in
Tarragona last week. The plant tour was a real eye-opener, and the dinner by the harbour on
Wednesday was the highlight of the trip for all three of us.

Please also pass on our thanks to Montse for organising the transport at such short notice
when our flight was moved.

We look forward to welcoming you in Rotherham in the new year. The weather will not be as
kind, but we will do our best with the food.

Warm regards,
Sarah

--
Sarah Whitcombe
Technical Service Manager
Brackenridge Fenwick Coatings Ltd

{footer}
""")


def agenda() -> None:
    write_text("agenda-q3-operations-review.md", """\
# Q3 operations review: agenda

**Date:** Thursday 10 October 2024, 09:30 to 12:00
**Place:** Board room, Rotherham, and online
**Chair:** Helen Oduya, Operations Director

| Time | Item | Lead |
|---|---|---|
| 09:30 | Safety moment; incidents and near misses since July | HSE |
| 09:45 | Output against plan for lines 1 and 2; overtime | Production |
| 10:15 | Raw material prices: resins, titanium dioxide, solvents | Purchasing |
| 10:40 | Break | |
| 10:50 | Warehouse racking replacement: quotes and timing | Logistics |
| 11:10 | Recruitment: two process technicians, one lab analyst | HR |
| 11:25 | Customer complaints: summary and open cases | Quality |
| 11:45 | Any other business | All |

Please send slides to Karen by Tuesday evening. Papers will be circulated on Wednesday.
""")


def datasheet() -> None:
    """Public technical data sheet as DOCX (tables included)."""
    d = new_docx("MarineShield 700 technical data sheet", "Brackenridge Fenwick Coatings")
    d.add_heading("MarineShield 700: technical data sheet", level=1)
    d.add_paragraph(
        "A two-component epoxy-polysiloxane finish for steel structures in severe marine "
        "environments, for use over approved zinc-rich and epoxy primers. Issue 4, 2024."
    )
    rows = [
        ("Generic type", "Two-component epoxy polysiloxane"),
        ("Finish", "Gloss"),
        ("Colours", "White, safety yellow, light grey; others on request"),
        ("Volume solids", "78 % ± 2"),
        ("Typical dry film thickness", "150 to 200 µm"),
        ("Theoretical spreading rate", "4.3 m² per litre at 180 µm"),
        ("Mixing ratio by volume", "3.1 : 1 (base : curing agent)"),
        ("Usable life after mixing", "1.5 hours at 20 °C"),
        ("VOC", "210 g/l as supplied"),
        ("Flash point", "Base 27 °C, curing agent 35 °C"),
        ("Packaging", "20 litre kits"),
        ("Shelf life", "12 months in unopened containers, stored at 5 to 30 °C"),
    ]
    table = d.add_table(rows=0, cols=2)
    for key, value in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = key, value
    d.add_heading("Drying times", level=2)
    dry = d.add_table(rows=1, cols=4)
    for cell, text in zip(dry.rows[0].cells, ("Steel temperature", "Surface dry", "Hard dry", "Recoat after")):
        cell.text = text
    for row in (("10 °C", "3 h", "7 h", "12 h"), ("20 °C", "2 h", "4 h", "6 h"), ("30 °C", "1 h", "2.5 h", "4 h")):
        for cell, text in zip(dry.add_row().cells, row):
            cell.text = text
    d.add_heading("Application", level=2)
    d.add_paragraph(
        "Blast clean the primer only if it has been exposed for longer than the maximum recoat "
        "interval; otherwise wash down with fresh water and let dry. Apply by airless spray with a "
        "tip of 0.43 to 0.53 mm at 200 bar or more. Use brush or roller for stripe coats and small "
        "repairs only. Steel must be at least 3 °C above the dew point."
    )
    d.add_heading("Safety", level=2)
    d.add_paragraph(
        "Read the safety data sheets of both components before use. Provide good ventilation and "
        "wear gloves, eye protection and a suitable respirator when spraying."
    )
    d.add_paragraph(
        "The information in this sheet reflects our laboratory and field experience at the date of "
        "issue. Because conditions of use are outside our control, it is given without warranty. "
        "Check that you hold the latest issue before starting work."
    )
    save_docx(d, "marineshield-700-datasheet.docx")


def invoice() -> None:
    """An invoice with invented data; the buyer is not in the customer list."""
    story = [
        Paragraph("Brackenridge Fenwick Coatings Ltd", STYLES["Heading2"]),
        Paragraph("Canklow Road, Rotherham, S60 0ZZ, United Kingdom · VAT GB 000 0000 00", SMALL),
        Spacer(1, 8 * mm),
        Paragraph("<b>INVOICE</b> INV-24-0917", STYLES["Heading1"]),
        Paragraph("Invoice date: 30 September 2024 · Due date: 30 October 2024 · Your order: PO 77-1932", BODY),
        Spacer(1, 5 * mm),
        Paragraph(
            "<b>Bill to:</b> Dunmore Bridge Maintenance Ltd, Accounts Payable, Unit 9 Quarry Lane "
            "Industrial Estate, Dunmore, DN9 9ZZ · accounts@dunmore-bridge.example.net · +44 555 0391",
            BODY,
        ),
        Spacer(1, 6 * mm),
    ]
    lines = [
        ("MarineShield 700, white, 20 l kit", 24, 312.00),
        ("ZincGuard 90 primer, 20 l kit", 18, 268.50),
        ("Thinner T-12, 5 l", 10, 31.20),
        ("Static mixer elements, box of 50", 2, 84.00),
        ("Delivery, tail-lift vehicle", 1, 145.00),
    ]
    data = [["Description", "Qty", "Unit price GBP", "Amount GBP"]]
    net = 0.0
    for desc, qty, price in lines:
        amount = qty * price
        net += amount
        data.append([desc, str(qty), f"{price:,.2f}", f"{amount:,.2f}"])
    vat = round(net * 0.20, 2)
    data += [["", "", "Net", f"{net:,.2f}"], ["", "", "VAT 20 %", f"{vat:,.2f}"],
             ["", "", "Total", f"{net + vat:,.2f}"]]
    table = Table(data, colWidths=[85 * mm, 15 * mm, 32 * mm, 32 * mm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, "black"),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEABOVE", (2, -3), (-1, -3), 0.4, "black"),
        ("FONT", (2, -1), (-1, -1), "Helvetica-Bold"),
    ]))
    story += [
        table,
        Spacer(1, 8 * mm),
        Paragraph("Payment by bank transfer to sort code 00-00-00, account 00000000, quoting the invoice number.", BODY),
        Paragraph("Goods remain our property until paid in full. Thank you for your business.", SMALL),
    ]
    save_pdf("invoice-INV-24-0917.pdf", story, "Invoice INV-24-0917", "Brackenridge Fenwick Coatings Ltd")


def latin1_letter() -> None:
    """A Spanish letter about a visit, stored in Latin-1 (also valid cp1252)."""
    write_text("carta-visita-tarragona.txt", """\
Rotherham, 1 de octubre de 2024

Sr. Jordi Ferrer
Soltera Química S.A.
Polígono Industrial Riu Clar, Tarragona

Estimado Jordi:

Le escribo para confirmar los detalles de nuestra próxima visita a Tarragona. Llegaremos
el martes 15 de octubre en el vuelo de la mañana a Barcelona y alquilaremos un coche en
el aeropuerto, así que no hace falta que nadie venga a recogernos.

¿Sería posible reservar la sala de reuniones pequeña el miércoles por la mañana? Nos
gustaría repasar con su equipo de producción el calendario del próximo trimestre y la
formación de los operarios nuevos. Por la tarde, si el tiempo lo permite, podríamos
visitar el almacén de materias primas.

El jueves por la mañana tenemos que volver a Inglaterra, de modo que la cena, si les
parece bien, sería el miércoles. Elija usted el restaurante: después de la última vez,
confío plenamente en su criterio. ¡La paella de aquel día todavía se recuerda en
nuestra oficina!

Le agradecería también que nos enviara la dirección exacta del hotel y el número de
teléfono de la recepción del polígono, por si llegamos después de las seis.

Reciba un cordial saludo,

Sarah Whitcombe
Responsable de Servicio Técnico
Brackenridge Fenwick Coatings Ltd
""", encoding="latin-1")


def main() -> None:
    os.makedirs(OUTBOX, exist_ok=True)
    for make in (partner_memo, spec_pdf, crm_export, stand_note, forum_page, conference_abstract,
                 brochure, thanks_mail, agenda, datasheet, invoice, latin1_letter):
        make()
    for name in sorted(os.listdir(OUTBOX)):
        print(f"{os.path.getsize(os.path.join(OUTBOX, name)):>8}  outbox/{name}")


if __name__ == "__main__":
    main()
