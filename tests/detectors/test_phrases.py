"""Term sets and records: case-insensitive, on word boundaries, keyed."""

from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.types import Action, Destination
from dlp.rules import DefaultPolicy

CSV = """customer_id,company,contact,email,country
C-001,Acme Widgets GmbH,Jana Novak,jana.novak@acme.test,Germany
C-002,Borealis Trading,Ole Hansen,ole@borealis.test,Norway
C-003,Cobalt Partners,Mei Lin,mei.lin@cobalt.test,Germany
"""


def scanner(tmp_path, min_distinct=1):
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_terms("codes", ["Project Halcyon", "HX-4471-B", "# a comment", "", "Bluefin"], min_distinct=min_distinct)
    reg.add_records("customers", CSV, columns=["company", "contact", "email", "country"], min_fields=2)
    reg.commit()
    return Scanner(Registry(tmp_path / "reg"))


def action(findings):
    return DefaultPolicy().decide(findings, (), Destination()).action


def test_terms_match_case_insensitively_on_word_boundaries(tmp_path):
    sc = scanner(tmp_path)
    (f,) = sc.scan_text("Status of PROJECT  halcyon: part hx 4471 b ships Monday.")
    assert f.kind == "terms" and f.evidence.distinct_terms == 2 and action([f]) is Action.WARN
    assert sc.scan_text("the bluefins and halcyonic projects") == []


def test_min_distinct_requires_several_terms(tmp_path):
    sc = scanner(tmp_path, min_distinct=2)
    assert sc.scan_text("Bluefin Bluefin Bluefin") == []
    assert len(sc.scan_text("Bluefin and Project Halcyon")) == 1


def test_term_evidence_gives_line_numbers_not_terms(tmp_path):
    (f,) = scanner(tmp_path).scan_text("about bluefin")
    text = str(f.to_dict())
    assert "bluefin" not in text.lower() and f.evidence.matches[0].term == 5


def test_two_fields_of_one_row_block(tmp_path):
    (f,) = scanner(tmp_path).scan_text("Please call Ole Hansen of Borealis Trading tomorrow.")
    assert f.kind == "records" and action([f]) is Action.BLOCK
    assert f.evidence.matches[0].fields == ("company", "contact")


def test_fields_of_different_rows_or_far_apart_do_not_match(tmp_path):
    sc = scanner(tmp_path)
    assert sc.scan_text("Jana Novak met Mei Lin.") == []
    far = "Ole Hansen " + "filler " * 80 + "Borealis Trading"
    assert sc.scan_text(far) == []


def test_common_values_alone_do_not_identify_a_row(tmp_path):
    # "Germany" is shared by two rows; with a name of another row it is no match
    assert scanner(tmp_path).scan_text("Germany, said Ole Hansen.") == []
