#!/usr/bin/env python3
"""Generate examples/secrets/design-spec.docx, the demo's design specification.

The text is fictional and was written for the dlp demo. The output is
deterministic (fixed document properties and zip timestamps), so running this
again produces the same bytes. Requires python-docx.
"""

from __future__ import annotations

import datetime
import io
import os
import zipfile

import docx
from docx.shared import Pt

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "secrets", "design-spec.docx")

FOOTER = (
    "CONFIDENTIAL — Property of Brackenridge Fenwick Coatings Ltd. This document contains "
    "proprietary information and trade secrets. It may not be copied, distributed or disclosed, "
    "in whole or in part, to any third party without the prior written consent of the Company. "
    "Unauthorised disclosure may result in legal action."
)

TITLE = "DS-0412 Design specification: two-component dispensing and mixing cell, Saltmarsh line"

# (heading, [paragraphs]); a paragraph starting with "- " becomes a bullet.
SECTIONS = [
    ("Document control", [
        "Owner: Engineering, Process Automation. Revision C. Programme: Project Halcyon. "
        "This specification describes the cell that meters, mixes and dispenses the Bluefin resin "
        "topcoat and its BF-220 hardener into applicator pails and into the airless spray skid on "
        "the Saltmarsh pilot line at the Rotherham works.",
    ]),
    ("1. Scope", [
        "The cell takes Part A from a heated 1,000 litre intermediate bulk container and Part B "
        "from a 200 litre drum, meters both by gear pump at a fixed weight ratio of four to one, "
        "combines them in a static mixer and delivers mixed material either to a filling head or "
        "to the spray skid. It replaces the hand mixing that caused the ratio complaints of the "
        "last two winters, when site crews split kits by eye and the film stayed soft for days.",
        "Out of scope are the bulk storage tanks, the spray guns themselves and the plant-wide "
        "batch record system, which the cell only feeds with one record per dispensed lot.",
    ]),
    ("2. Process requirements", [
        "- Mix ratio accuracy: 4.00 to 1 by weight, within plus or minus 1.0 percent, checked "
        "continuously by two Coriolis meters and not only at start-up.",
        "- Flow range: 0.4 to 6.0 kilograms per minute of mixed material, turndown fifteen to one.",
        "- Material temperature at the mixer inlet: Part A 32 to 36 degrees Celsius, Part B 22 to 26 "
        "degrees Celsius. Cold Part A raises the pressure drop across the mixer past the pump limit.",
        "- Pot life management: mixed material older than 60 minutes at the mixer outlet must be "
        "purged automatically, because the mixed coating reaches its gel point inside the hose well "
        "before it becomes visibly thick.",
        "- Moisture: both feed lines stay under dry nitrogen at a dew point below minus 40 degrees "
        "Celsius; the silane in the hardener reacts with humid air and leaves a skin on the sight glass.",
    ]),
    ("3. Mechanical design", [
        "Each component has its own hardened-steel gear pump driven by a servo motor through a "
        "ten to one planetary gearbox. The A-side pump displaces 20 cubic centimetres per revolution "
        "and the B-side pump 6 cubic centimetres, so that both run in the middle of their speed range "
        "at the nominal ratio. Pump heads are jacketed and tied into the same warm water loop as the "
        "hoses, which is held at 35 degrees Celsius by a 9 kilowatt heater.",
        "Mixing takes place in a disposable static mixer with 24 helical elements, 16 millimetres in "
        "diameter. Trials with 18 elements left streaks of unreacted hardener visible under a UV lamp, "
        "and 32 elements pushed the pressure drop above 60 bar at full flow. The mixer is mounted "
        "vertically, outlet down, so that air bubbles rise back into the manifold and are vented there "
        "instead of ending up in the film as pinholes.",
        "The manifold has a solvent flush port on each side and a non-return valve on the B side. "
        "Without that valve the higher-pressure A side pushes resin into the hardener line during a "
        "stop, and the next start-up dispenses a resin-rich slug that never cures.",
    ]),
    ("4. Control system", [
        "A safety PLC handles the hardwired interlocks and a supervisory controller written in Python "
        "runs on an industrial PC beside the cabinet. The supervisory controller owns the ratio loop, "
        "the pump ramps, the pot-life timer and the batch record. It talks to the servo drives over "
        "Modbus TCP and polls the Coriolis meters every 100 milliseconds.",
        "At start-up the B-side pump is ramped up behind the A-side pump with a fixed lag, rather than "
        "both starting together. The hardener is thin, and a simultaneous start lets it reach the mixer "
        "first, which gives a hardener-rich first litre. The ratio loop is a proportional-integral "
        "trim on the B-side speed with a deadband of 0.3 percent; outside the deadband it corrects by "
        "at most two percent of speed per second so that a single noisy meter reading cannot swing it.",
        "If the measured ratio stays outside the tolerance for more than five seconds the cell diverts "
        "flow to the waste drum, raises an alarm and refuses to release the lot. The operator can "
        "acknowledge the alarm but cannot override the divert; only a shift engineer with the key "
        "switch can restart dispensing into pails.",
    ]),
    ("5. Safety", [
        "The cell sits in a Zone 2 area because of the xylene and butyl acetate vapours. Motors, "
        "meters and heaters are certified accordingly, and the industrial PC lives outside the zone "
        "in a purged cabinet. Amines in the hardener are skin sensitisers, so the drum change station "
        "has local extraction and the operating instruction requires nitrile gloves and a face shield.",
        "An emergency stop removes power from both servo drives and closes the two air-operated ball "
        "valves at the pump inlets. The mixer and hose are then purged with solvent by hand within "
        "thirty minutes, or discarded.",
    ]),
    ("6. Acceptance tests", [
        "- Ratio: fifty consecutive one-kilogram shots at three flow rates, each weighed on a "
        "calibrated balance after separate collection of both components; all within tolerance.",
        "- Mixing quality: drawdowns at 180 micrometres cured at 5 degrees Celsius must reach "
        "handling strength in eight hours with no soft spots under the thumb test.",
        "- Pot life purge: a deliberately idled cell must purge at 60 minutes within a 30 second window.",
        "- Divert: a simulated meter fault must divert flow within five seconds and record the event.",
    ]),
    ("7. Open points", [
        "The Spanish licensing partner has asked for a second cell of the same design for its own "
        "plant. Any copy of this specification sent outside the company needs approval from the "
        "programme board, and the Python controller source is not to be shared in any form.",
    ]),
]


def build() -> bytes:
    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    props = document.core_properties
    props.author = "Process Automation"
    props.last_modified_by = "Process Automation"
    props.title = TITLE
    props.revision = 3
    fixed = datetime.datetime(2024, 3, 14, 9, 0, 0)
    props.created = fixed
    props.modified = fixed
    props.last_printed = fixed

    document.add_heading(TITLE, level=1)
    for heading, paragraphs in SECTIONS:
        document.add_heading(heading, level=2)
        for text in paragraphs:
            if text.startswith("- "):
                document.add_paragraph(text[2:], style="List Bullet")
            else:
                document.add_paragraph(text)
    document.add_paragraph("")
    document.add_paragraph(FOOTER)
    return deterministic_zip(document)


def deterministic_zip(document) -> bytes:
    """Save a python-docx document with fixed zip timestamps and member order."""
    raw = io.BytesIO()
    document.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 14, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name))
    return out.getvalue()


def main() -> None:
    data = build()
    with open(OUTPUT, "wb") as handle:
        handle.write(data)
    print(f"wrote {os.path.relpath(OUTPUT)} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
