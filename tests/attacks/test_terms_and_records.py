"""Code names, part numbers and staff records written the way people (and evaders) write them.

Terms warn by default and records block: each case is a short mail-like text file
with one term, or one staff member's details, and all are scanned in one call.
"""

from __future__ import annotations

import pytest

from .conftest import action, hole, kinds

MAIL = "Hi Sam,\n\nas promised after the call: {} is the one we discussed. Talk soon.\n"

# (written, reason when it is a hole or None)
TERMS = [
    ("HX-4471-B", None), ("HX 4471 B", None), ("HX.4471.B", None), ("HX/4471/B", None), ("hx_4471_b", None),
    ("(HX-4471-B)", None), ("HX\u20104471\u2010B", None), ("HX-\uff14\uff14\uff17\uff11-B", None),
    ("НХ-4471-В", None), ("PROJECT HALCYON", None), ("project-halcyon", None), ("Project\nHalcyon", None),
    ("Bluefin_resin", None), ("FR 118", None),
    ("HX4471B", None), ("HX-4471B", None), ("BF220", None), ("HX-\u0664\u0664\u0667\u0661-B", None),
    ("HX-\u096a\u096a\u096d\u0967-B", None), ("ProjectHalcyon", None), ("#ProjectHalcyon", None),
    ("Project Hálcyon", None), ("P r o j e c t  H a l c y o n", None),
    # found while closing the holes above
    ("HX-\u2779\u2779\u277c\u2776-B", None), ("HX-\u2463\u2463\u2466\u2460-B", None), ("hx4471-b", None),
    ("P.r.o.j.e.c.t H.a.l.c.y.o.n", None), ("ProjectHalcyonSecret", None), ("Pro-\nject Halcyon", None),
    ("Proj\u00adect Halcyon", None),
    ("\U0001d40f\U0001d42b\U0001d428\U0001d423\U0001d41e\U0001d41c\U0001d42d Halcyon", None),
    ("HX-\u2074\u2074\u2077\u00b9-B", None), ("Bluefin-\nresin", None), ("blue-\nfin resin", None),
    ("BF [220]", None), ("BF[220]", None), ("FR [ 118 ]", None),
    ("PROJECTHALCYON", None), ("#projecthalcyon", None), ("BLUEFINRESIN", None), ("saltmarshline", None),
    ("@MistralDispersant", None),
]

# (written, reason when it is a hole or None); every value belongs to one registered staff member
RECORDS = [
    ("Björn Ågren, +46 8 555 123 45", None),
    ("Ågren, Björn; +46-8-555-12345", None),
    ("BJÖRN ÅGREN, BJORN.AGREN@BRACKENRIDGE.EXAMPLE.COM", None),
    ("Björn Ågren, born 7 March 1984", None),
    ("Björn Ågren, born 03/07/1984", None),
    ("Björn Ågren, EMP20417", None),
    ("José Ramírez, +34 915 550 178", None),
    ("José Ramírez, Dec 31 1975", None),
    ("EMP-20418, +49 30 5550 1234", None),
    ("Greta Marie Lindqvist, EMP-20420", None),
    ("Bjorn Agren, +46 8 555 123 45", None),
    ("Björn Ågren, 0046 8 555 123 45", None),
    ("Björn Ågren, +46 (0)8 555 123 45", None),
    ("Björn Ågren, 08-555 123 45", None),
    ("Björn Ågren, born March 7th, 1984", None),
    ("Björn Ågren, born 19840307", None),
    ("Zoë Çelik-Müller, +49 30 5550 1234", None),
    ("Siobhán O'Neill, +353 1 555 0199", None),
    ("Greta Lindqvist, EMP-20420", None),
    ("José Ramírez, +34 \u0669\u0661 \u0665\u0665\u0665 \u0660\u0661\u0667\u0668", None),
    # found while closing the holes above
    ("AGREN, BJORN, 0046-8-555 123 45", None), ("Siobhán O\u2019Neill, +353 1 555 0199", None),
    ("Björn Ågren, born 7th March 1984", None), ("Björn Ågren, (08) 555 123 45", None),
    ("Zoe Celik Muller, +49 30 5550 1234", None), ("Lindqvist, Greta, EMP 20420", None),
]

# a CRM export: first and last name in separate columns
TSV = "first\tlast\tborn\nBjörn\tÅgren\t1984-03-07\nJosé\tRamírez\t1975-12-31\n"
CSV = TSV.replace("\t", ",")
LAST_FIRST = "last\tfirst\tborn\nÅgren\tBjörn\t19840307\n"


@pytest.fixture(scope="module")
def reports(dlp, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("terms-records")
    paths = {}
    for kind, table in (("term", TERMS), ("record", RECORDS)):
        for i, (written, _) in enumerate(table):
            path = folder / f"{kind}-{i:02d}.txt"
            path.write_text(MAIL.format(written), encoding="utf-8")
            paths[f"{kind}:{written}"] = str(path)
    for name, text in (("export.tsv", TSV), ("export.csv", CSV), ("last-first.tsv", LAST_FIRST)):
        (folder / name).write_text(text, encoding="utf-8")
        paths[name] = str(folder / name)
    clean = folder / "clean.txt"
    clean.write_text(MAIL.format("HX-4472-B, Björn Borg +46 8 555 123 46, Greta Garbo born 1984-03-08, BF-221"),
                     encoding="utf-8")
    paths["clean"] = str(clean)
    forms = folder / "clean-forms.txt"
    forms.write_text(MAIL.format("HX4472B, Bjorn Borg 0046 8 555 123 46, 08-555 123 46, born March 8th, 1984, "
                                 "19840308, Zoë Çelik-Schmidt, Greta Garbo-Lindqvist, B F 2 2 0, ProjectHalcyonic, "
                                 "PROJECTHALCYONS, bluefinresins, saltmarshlines, BF [221], as Smith shows [220], FR [1, 118]"),
                     encoding="utf-8")
    paths["clean-forms"] = str(forms)
    by_path = dlp.scan(folder)
    return {case: by_path[path] for case, path in paths.items()}


@pytest.mark.parametrize("written", [pytest.param(w, id=w, marks=[hole(r)] if r else []) for w, r in TERMS])
def test_a_term_written_another_way_is_still_found(reports, written):
    report = reports[f"term:{written}"]
    assert "terms" in kinds(report, "codenames") and action(report) in ("warn", "quarantine", "block")


@pytest.mark.parametrize("written", [pytest.param(w, id=w, marks=[hole(r)] if r else []) for w, r in RECORDS])
def test_a_staff_record_written_another_way_still_blocks(reports, written):
    report = reports[f"record:{written}"]
    assert "records" in kinds(report, "staff") and action(report) == "block", report["findings"]


@pytest.mark.parametrize("name", [
    "export.csv",
    "export.tsv",
    "last-first.tsv",
])
def test_a_crm_export_with_first_and_last_name_columns_blocks(reports, name):
    report = reports[name]
    assert "records" in kinds(report, "staff") and action(report) == "block", report["findings"]


@pytest.mark.parametrize("name", ["clean", "clean-forms"])
def test_near_misses_match_nothing(reports, name):
    """One digit, one letter or one day off, in every form the matchers now accept: other people and
    other parts."""
    assert reports[name]["findings"] == [] and action(reports[name]) == "allow"


def test_a_term_registered_in_camelcase_is_found_in_any_case(tmp_path):
    """Cutting glued CamelCase must not cost the terms written that way: a code name registered as
    ``BlueFin`` is still found as ``bluefin``, ``BLUEFIN`` and ``BlueFin``; one of three words
    (``DeepBlueFin``) is registered as its words and found as such."""
    from .conftest import fresh

    d = fresh(tmp_path)
    (tmp_path / "names.txt").write_text("BlueFin\nDeepBlueSea\n", encoding="utf-8")
    d.must("terms", "add", "names", str(tmp_path / "names.txt"))
    texts = {"lower": "the bluefin launch", "upper": "THE BLUEFIN LAUNCH", "camel": "the BlueFin launch",
             "hashtag": "#BlueFin", "spaced": "deep blue sea", "glued": "DeepBlueSea rules",
             "near": "the bluefins and blue fin tuna, deep blue seas"}
    for name, text in texts.items():
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    reports = d.scan(*(tmp_path / f"{name}.txt" for name in texts))
    found = {name for name in texts if kinds(reports[str(tmp_path / f"{name}.txt")], "names")}
    assert found == {"lower", "upper", "camel", "hashtag", "spaced", "glued"}
