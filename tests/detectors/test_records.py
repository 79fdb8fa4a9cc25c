"""Field-aware records: names in any order, phones and ids whatever the grouping, emails in any case, dates."""

from __future__ import annotations

import random

import pytest

from dlp.fingerprint import fields
from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.types import Action

FIRST = ["Greta", "Lars", "Ingrid", "Sven", "Astrid", "Nils", "Karin", "Erik", "Maja", "Olof", "Britt", "Per"]
LAST = ["Lindqvist", "Berg", "Holm", "Sandberg", "Ek", "Nyman", "Wallin", "Falk", "Hedlund", "Lund"]


def rows(n: int = 40, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append({"name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}{100 + i}@kund{i % 30}.se",
                    "account": f"SE-{rng.randint(1000, 9999)}-{rng.randint(100000, 999999)}",
                    "phone": f"+46-{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}",
                    "signed": f"20{rng.randint(10, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"})
    return out


ROWS = rows()
CSV = "name,email,account,phone,signed\n" + "".join(
    f"{r['name']},{r['email']},{r['account']},{r['phone']},{r['signed']}\n" for r in ROWS)


@pytest.fixture(scope="module", params=["declared", "guessed"])
def scanner(request, tmp_path_factory) -> Scanner:
    root = tmp_path_factory.mktemp("rec") / "reg"
    reg = Registry(root, create=True)
    columns = ["name:name", "email:email", "account:id", "phone:phone", "signed:date"] \
        if request.param == "declared" else None
    reg.add_records("crm", CSV, columns=columns, min_fields=2)
    reg.commit()
    assert reg.secrets["crm"].settings["types"] == ["name", "email", "id", "phone", "date"]
    return Scanner(Registry(root))


def scan(scanner: Scanner, text: str):
    return scanner.scan_bytes(text.encode(), "mail.txt")


def reformat(r: dict, rng: random.Random) -> str:
    first, last = r["name"].split()
    name = rng.choice([f"{last}, {first}", f"{first.upper()} {last.upper()}", f"{first} Q. {last}"])
    phone = r["phone"].replace("-", "")
    phone = rng.choice([f"tel {phone[:3]} {phone[3:6]} {phone[6:9]} {phone[9:]}", f"({phone[1:3]}) {phone[3:]}",
                        r["phone"].replace("-", " ")])
    account = r["account"].replace("-", rng.choice(["", " ", "/"]))
    y, m, d = r["signed"].split("-")
    date = rng.choice([f"{d}/{m}/{y}", f"{int(d)} {fields.MONTHS[int(m) - 1].title()} {y}", f"{y}{'.'}{m}.{d}"])
    chosen = rng.sample([name, r["email"].upper(), phone, account, f"signed {date}"], k=rng.choice([2, 3]))
    return " | ".join(chosen)


def test_the_issues_row_as_a_person_pastes_it(scanner):
    r = ROWS[0]
    first, last = r["name"].split()
    text = f"Hi, the customer is {last}, {first} | {r['email'].upper()} | tel {r['phone'].replace('-', ' ')}."
    report = scan(scanner, text)
    assert report.action is Action.BLOCK
    (f,) = [f for f in report.findings if f.kind == "records"]
    assert set(f.evidence.matches[0].fields) == {"name", "email", "phone"}
    assert first.lower() not in str(f.to_dict()).lower()


def test_two_or_three_reformatted_fields_of_one_row_always_block(scanner):
    rng = random.Random(3)
    for r in ROWS[:25]:
        text = "Please update our records: " + reformat(r, rng) + ". Thanks, Ann"
        assert scan(scanner, text).action is Action.BLOCK, text


@pytest.mark.parametrize("text", [
    "Greta Lindqvist called about the invoice.",  # a name alone
    "Call me on +46 190 861 340 or at 08-555 123 45.",  # phone-like numbers of no row
    "Meeting on 12/03/2021 with Lars Berg and Astrid Holm.",  # names of different rows
    "Order SE 1234 567890 shipped on 2021-03-12.",
])
def test_single_fields_and_look_alike_numbers_do_not_block(scanner, text):
    assert scan(scanner, text).action is not Action.BLOCK


def test_dates_match_across_formats():
    assert fields.parse_dates("2024-03-12") == [20240312]
    assert set(fields.parse_dates("03/04/2024")) == {20240403, 20240304}
    assert fields.parse_dates("12 March 2024") == [20240312]
    assert fields.parse_dates("March 12, 2024") == [20240312]
    assert fields.parse_dates("31/02/2024") == []


def test_column_types_are_parsed_and_checked():
    assert fields.parse_columns("name:name, email ,phone:PHONE") == [("name", "name"), ("email", None), ("phone", "phone")]
    with pytest.raises(Exception, match="unknown type"):
        fields.parse_columns("name:person")
