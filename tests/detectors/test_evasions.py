"""Cheap evasions: invisible characters, lookalike letters, reformatting. The excerpt still blocks."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp.scanner import Scanner
from dlp.types import Action, Destination
from dlp.rules import DefaultPolicy

from helpers import prose, registry_with

SECRET = (
    "The Halcyon coating adds four parts of zinc phosphate to every hundred parts of the epoxy base before "
    "the mixer reaches its second speed. The operator then waits ninety seconds, checks the viscosity with "
    "the cup, and only then releases the batch to the filling line where the pails are sealed under nitrogen. "
    "Batches that fail the cup test are returned to the mixer with half a part of thinner and tested again."
)
# the same kind of secret written with figures (an invisible character inside a number must not cut it either)
FIGURES = (
    "Batch 4471 of the Halcyon coating takes 2,450 kg of epoxy base at 80 degrees for 40 minutes, then 612 kg of "
    "zinc phosphate and 18.5 kg of thinner; the mixer runs at 1,200 rpm for 90 seconds and at 3,600 rpm until the "
    "viscosity reads 1988 on the cup. Since 2019 the line fills 364 pails an hour under nitrogen at 0.35 bar, and "
    "each pail of 25 kg carries lot number 7750 and the date of 12 March 2024 on its lid."
)
# and with abbreviations, which letter-spaced text leaves dotted (``T H E U.S A N D``)
TRADE = (
    "Since the spring the U.S. and U.K. buyers of the coating have paid 3/4 U.S. cents a pound more than the buyers "
    "in Asia, and the sales office in Rotterdam has been told to hold that margin until the new plant in Ohio "
    "reaches its full output of pails at the end of the year, when the price list is drawn up again."
)
RUSSIAN = ("Технология покрытия предусматривает добавление фосфата цинка к эпоксидной основе до того как "
           "смеситель выйдет на вторую скорость затем оператор ждёт девяносто секунд и проверяет вязкость "
           "чашкой после чего партия поступает на линию розлива где вёдра запаиваются под азотом")
GREEK = ("Η επίστρωση προσθέτει τέσσερα μέρη φωσφορικού ψευδαργύρου σε κάθε εκατό μέρη της εποξικής βάσης "
         "πριν ο αναμικτήρας φτάσει στη δεύτερη ταχύτητα και ο χειριστής περιμένει ενενήντα δευτερόλεπτα")
CHINESE = ("本公司的涂层工艺配方包括以下成分和比例，这些信息属于商业秘密，不得向第三方披露。"
           "第一步将基础树脂在八十度下加热四十分钟，然后按照三比一的比例加入固化剂和特殊添加剂，持续搅拌直到混合物变得均匀透明。"
           "第二步在无尘环境中喷涂两层，每层厚度控制在十五微米以内，两层之间需要静置二十分钟，最后在一百二十度下烘烤一小时完成固化。")
JAPANESE = ("当社のコーティング工程では、エポキシ樹脂に亜鉛リン酸塩を加え、ミキサーが二段目の速度に達する前に混合します。"
            "オペレーターは九十秒待ってからカップで粘度を確認し、その後バッチを充填ラインに送ります。"
            "カップ試験に不合格となったバッチは、シンナーを半分加えてミキサーに戻し、再度試験を行います。")
THAI = ("บริษัทของเราได้พัฒนาสูตรการเคลือบผิวแบบพิเศษซึ่งเป็นความลับทางการค้าและห้ามเปิดเผยต่อบุคคลภายนอกโดยเด็ดขาด "
        "ขั้นตอนแรกคือการให้ความร้อนเรซินพื้นฐานที่แปดสิบองศาเป็นเวลาสี่สิบนาที "
        "จากนั้นเติมสารทำให้แข็งตัวในอัตราส่วนสามต่อหนึ่งและคนอย่างต่อเนื่องจนกว่าส่วนผสมจะใสและเป็นเนื้อเดียวกัน")
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u202e", "\ufe0f", "\u180e"]
LOOKALIKE = str.maketrans("aeopcxyi", "аеорсхуі")  # Latin -> Cyrillic


@pytest.fixture(scope="module")
def scanner(tmp_path_factory) -> Scanner:
    reg = registry_with(tmp_path_factory.mktemp("ev"),
                        {"halcyon": SECRET, "figures": FIGURES, "trade": TRADE, "ru": RUSSIAN, "el": GREEK, "zh": CHINESE, "ja": JAPANESE, "th": THAI,
                         "other": prose(400, 5)})
    return Scanner(reg)


def verdict(scanner: Scanner, text: str):
    report = scanner.scan_bytes(text.encode("utf-8"), "mail.txt")
    return report, DefaultPolicy().decide([f for f in report.findings if f.kind == "document"], (), Destination())


def excerpt(words: int = 40, start: int = 5, secret: str = SECRET) -> list[str]:
    return secret.split()[start : start + words]


def hide(words: list[str], every: int, mark: str) -> str:
    return " ".join(w[: len(w) // 2] + mark + w[len(w) // 2 :] if i % every == 0 and len(w) > 1 else w
                    for i, w in enumerate(words))


@pytest.mark.parametrize("mark", INVISIBLE)
def test_an_invisible_character_inside_every_third_word_still_blocks(scanner, mark):
    report, decision = verdict(scanner, prose(80, 1) + "\n" + hide(excerpt(), 3, mark) + "\n" + prose(60, 2))
    assert decision.action is Action.BLOCK, mark.encode("unicode_escape")
    found = next(f for f in report.findings if f.secret == "halcyon")
    assert found.matched_words >= 39  # exact count: the invisible characters do not cut the run


@pytest.mark.parametrize("start", [0, 10, 20, 30, 40])
@pytest.mark.parametrize("mark", INVISIBLE)
def test_an_invisible_character_inside_every_number_still_blocks(scanner, mark, start):
    """Soft hyphens joined words but cut numbers (``19\u00ad88`` read as 19 and 88): 25 words of
    figures came through with a warn, or allowed."""
    words = excerpt(25, start, FIGURES)
    text = " ".join(w[: len(w) // 2] + mark + w[len(w) // 2:] if w[0].isdigit() and len(w) > 1 else w for w in words)
    report, decision = verdict(scanner, prose(80, 1) + "\n" + text + "\n" + prose(60, 2))
    assert decision.action is Action.BLOCK, mark.encode("unicode_escape")
    assert next(f for f in report.findings if f.secret == "figures").matched_words >= 25


@pytest.mark.xfail(strict=True, reason="every mark of punctuation deleted (tr -d '[:punct:]'): 2,450 reads as 2450 "
                   "and Kong's as kongs, one token where the registry holds two, so the runs break at every number "
                   "and possessive; no reading splits a token into registered pieces (bench_evasion_goals.py: 46% "
                   "of 25-word Reuters excerpts blocked)")
@pytest.mark.parametrize("start", [0, 10, 20, 30])
def test_an_excerpt_with_every_punctuation_mark_deleted_still_blocks(scanner, start):
    words = ("".join(c for c in w if c not in ",.;'") for w in excerpt(25, start, FIGURES))
    _, decision = verdict(scanner, prose(80, 1) + "\n" + " ".join(words) + "\n" + prose(60, 2))
    assert decision.action is Action.BLOCK


def test_lookalike_letters_in_every_second_word_still_block(scanner):
    words = excerpt()
    text = " ".join(w.translate(LOOKALIKE) if i % 2 else w for i, w in enumerate(words))
    assert text != " ".join(words)
    report, decision = verdict(scanner, prose(50, 3) + " " + text)
    assert decision.action is Action.BLOCK


def test_disguise_is_itself_a_finding_with_counts_never_text(scanner):
    report, _ = verdict(scanner, hide(excerpt(60, 0), 2, "\u200b"))
    obfuscation = [f for f in report.findings if f.kind == "obfuscation"]
    assert len(obfuscation) == 1 and obfuscation[0].matched_words >= 20
    dumped = json.dumps(obfuscation[0].to_dict())
    assert "zinc" not in dumped and "phosphate" not in dumped
    assert report.action >= Action.BLOCK


@pytest.mark.parametrize("text", [
    "Ассоциация проводит ежегодную встречу в Москве, обсуждаются новые правила торговли и налоги.",
    "Η σύσκεψη της Τρίτης μεταφέρθηκε στην Πέμπτη λόγω της απεργίας στα μέσα μεταφοράς.",
    "می‌خواهم فردا به دفتر بیایم و گزارش را تحویل بدهم.",  # Persian uses zero-width non-joiners in words
    "Family 👨\u200d👩\u200d👧 photos ❤\ufe0f from the holiday.",
])
def test_genuine_text_in_other_scripts_is_not_disguise(scanner, text):
    report, _ = verdict(scanner, text * 3)
    assert not [f for f in report.findings if f.kind == "obfuscation"]
    assert report.action is Action.ALLOW


@pytest.mark.parametrize("quoted", [
    "Η συνάντηση αναβλήθηκε λόγω της απεργίας στα μέσα μεταφοράς της Αθήνας.",
    "Встреча с партнёрами из Новосибирска прошла в дружеской обстановке, много снега на дорогах.",
    "Ο πελάτης στην Πάτρα ζητά νέα τιμή. Клиент в Самаре просит новую цену на детали.",
])
def test_a_sentence_of_another_script_quoted_in_english_mail_is_not_disguise(scanner, quoted):
    """A cross-border mail quotes its partner's own words: Greek and Cyrillic share most small
    letters' shapes with Latin, so many of their words are made only of lookalikes (``της``,
    ``στα``, ``много``), but they stand among words with letters Latin lacks."""
    report, _ = verdict(scanner, prose(120, 7) + "\n\n" + quoted + "\n\n" + prose(80, 8) + "\n" + quoted)
    assert not [f for f in report.findings if f.kind == "obfuscation"]
    assert report.action is Action.ALLOW


def test_english_words_written_in_lookalikes_among_english_ones_are_still_a_disguise(scanner):
    """No registered secret behind them: every second word of English prose in Cyrillic lookalikes,
    and a quoted Russian sentence elsewhere in the same text that must not excuse them."""
    words = prose(80, 9).split()
    text = " ".join(w.translate(LOOKALIKE) if i % 2 else w for i, w in enumerate(words))
    report, _ = verdict(scanner, text + "\n\nВстреча с партнёрами прошла в дружеской обстановке.\n\n" + prose(40, 10))
    found = [f for f in report.findings if f.kind == "obfuscation"]
    assert len(found) == 1 and found[0].matched_words >= 15


def test_registered_russian_and_greek_documents_are_found_in_their_own_scripts(scanner):
    for sid, text in (("ru", RUSSIAN), ("el", GREEK)):
        words = text.split()
        report, decision = verdict(scanner, "Коллеги, пересылаю. " + " ".join(words[2:28]) + " Спасибо.")
        assert decision.action is Action.BLOCK and {f.secret for f in report.findings} >= {sid}
        for codec in ("utf-16-le", "utf-16-be"):  # saved without a byte-order mark: no NUL tells it
            report = scanner.scan_bytes(" ".join(words[2:28]).encode(codec), "notes.txt")
            assert {f.secret for f in report.findings} >= {sid}, codec


@pytest.mark.parametrize("sid,text", [("zh", CHINESE), ("ja", JAPANESE)])
def test_registered_chinese_and_japanese_documents_are_found_and_counted_in_words(scanner, sid, text):
    """Their characters are tokens of their own and were never "content" (words of one letter are
    not), so no excerpt of them was reported. A character counts as half a word: 80 characters
    block as some 40 English words do, and are reported as half their number of characters."""
    excerpt = text[30:110]
    report, decision = verdict(scanner, "各位同事，请查收。\n" + excerpt + "\n谢谢。")
    found = [f for f in report.findings if f.secret == sid]
    characters = sum(1 for c in excerpt if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff")  # (not ，。)
    assert decision.action is Action.BLOCK and found and abs(found[0].matched_words - characters / 2) <= 1


def test_a_thai_excerpt_blocks_and_unrelated_thai_does_not(scanner):
    """Thai is written without spaces between words: a sentence was one token, so an excerpt
    matched only where its edges fell on the document's spaces. Its letters are tokens now."""
    report, decision = verdict(scanner, "เรียนทีม\n" + THAI[40:200] + "\nขอบคุณ")
    assert decision.action is Action.BLOCK and {f.secret for f in report.findings} >= {"th"}
    other = "วันนี้ฝนตกหนักมากในกรุงเทพและการจราจรติดขัดเป็นเวลานานหลายชั่วโมงทำให้พนักงานหลายคนมาทำงานสาย"
    report, _ = verdict(scanner, other * 3)
    assert not [f for f in report.findings if f.secret == "th"]
    for codec in ("utf-16-le", "utf-16-be", "cp874"):  # saved without a byte-order mark, or in the Thai code page
        report = scanner.scan_bytes(THAI[40:200].encode(codec), "notes.txt")
        decision = DefaultPolicy().decide([f for f in report.findings if f.kind == "document"], (), Destination())
        assert decision.action is Action.BLOCK, codec


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "gb18030"])
def test_a_chinese_excerpt_saved_in_another_encoding_still_blocks(scanner, codec):
    """UTF-16 without a byte-order mark passed for binary; GBK has no blanks between words."""
    report = scanner.scan_bytes(CHINESE[30:110].encode(codec), "notes.txt")
    decision = DefaultPolicy().decide([f for f in report.findings if f.kind == "document"], (), Destination())
    assert decision.action is Action.BLOCK and {f.secret for f in report.findings} >= {"zh"}


@pytest.mark.parametrize("sid,codec", [("ja", "iso2022_jp"), ("ja", "utf-7"), ("zh", "hz"), ("zh", "utf-7"),
                                       ("ru", "utf-7"), ("el", "utf-7")])
def test_an_excerpt_saved_in_a_seven_bit_encoding_still_blocks(scanner, sid, codec):
    """ISO-2022-JP (Japanese mail's own), HZ and UTF-7 write every character in ASCII bytes: a
    file so saved read as ASCII (``$BEv<R$N...``, ``+BB8EQAQ-``) and the excerpt went unread."""
    text = {"ja": JAPANESE[30:110], "zh": CHINESE[30:110], "ru": " ".join(RUSSIAN.split()[2:28]),
            "el": " ".join(GREEK.split()[2:28])}[sid]
    report = scanner.scan_bytes(("Regards,\n" + text + "\n").encode(codec), "notes.txt")
    decision = DefaultPolicy().decide([f for f in report.findings if f.kind == "document"], (), Destination())
    assert decision.action is Action.BLOCK and {f.secret for f in report.findings} >= {sid}, codec


def test_an_excerpt_on_a_line_also_read_as_utf7_is_one_finding(scanner):
    """A 7-bit reading holds its lines whole: an English excerpt on a line with a real UTF-7 word
    is in both readings, and is reported once, where it stands."""
    line = "Заметки".encode("utf-7").decode() + " " + " ".join(excerpt(40, 0))
    report, decision = verdict(scanner, "Hello,\n" + line + "\nBye\n")
    found = [f for f in report.findings if f.kind == "document"]
    assert decision.action is Action.BLOCK and [f.locator for f in found] == ["mail.txt"]


def test_a_weak_finding_in_the_text_hides_no_strong_one_in_its_7_bit_reading(scanner):
    """Two runs of 15 words in plain text (30 words, a warning) and 25 words in UTF-7 (a block by
    themselves): the reading's finding scores higher, so it stands, though it has fewer words
    (found by attacking 7dce06f)."""
    words = RUSSIAN.split()
    body = " ".join(words[0:15]) + "\n\nsee also\n\n" + " ".join(words[20:35]) + "\n\n" \
        + " ".join(words[5:30]).encode("utf-7").decode()
    report, decision = verdict(scanner, body)
    assert decision.action is Action.BLOCK, [(f.locator, f.matched_words, f.score) for f in report.findings]


def test_a_short_common_phrase_in_chinese_does_not_block(scanner):
    """Twenty characters shared with a registered document (some ten words) are not an excerpt."""
    report, decision = verdict(scanner, "会议纪要：" + CHINESE[43:63] + "。其他事项下周再议，请大家准时参加。")
    assert decision.action is not Action.BLOCK


def test_unrelated_chinese_text_on_the_same_subject_is_not_a_finding(scanner):
    other = ("我们公司今年在华东地区新建了一条涂装生产线，主要用于汽车零部件的表面处理，预计明年第二季度投产。"
             "项目总投资约三千万元，由设备部负责采购和安装调试，质量部负责验收标准的制定。")
    report, _ = verdict(scanner, other * 2)
    assert not [f for f in report.findings if f.secret in ("zh", "ja")]


def test_hard_wrapped_hyphenated_all_caps_text_still_blocks(scanner):
    words = excerpt(50, 0)
    lines, line = [], []
    for w in words:
        line.append(w.upper())
        if len(" ".join(line)) > 50:
            lines.append("\u00a0".join(line))
            line = []
    lines.append("\u00a0".join(line))
    report, decision = verdict(scanner, "\n".join(lines).replace(".", "").replace(",", ""))
    assert decision.action is Action.BLOCK


@pytest.mark.parametrize("between", [" ", "  ", "\n"])
@pytest.mark.parametrize("stops", [".", ""])
def test_a_letter_spaced_excerpt_with_dotted_abbreviations_still_blocks(scanner, between, stops):
    """Each word spaced out in capitals, the abbreviations left dotted, with or without their last stop
    (``T H E U.S A N D``): the dots are no spacing, so the letters around them are no part of it."""
    def spaced(word: str) -> str:
        word = word.upper().rstrip(",")
        return word.rstrip(".") + stops if "." in word[:-1] else " ".join(word.rstrip("."))
    report, decision = verdict(scanner, between.join(spaced(w) for w in excerpt(30, 0, TRADE)))
    assert decision.action is Action.BLOCK, report.findings


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 20), length=st.integers(25, 45), secret=st.sampled_from([SECRET, FIGURES]),
       marks=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(INVISIBLE)), min_size=1, max_size=30))
def test_any_insertion_of_invisible_characters_into_an_excerpt_keeps_it_blocked(scanner, start, length, secret, marks):
    text = " ".join(excerpt(length, start, secret))
    for at, mark in sorted(marks, reverse=True):
        at %= len(text) + 1
        text = text[:at] + mark + text[at:]
    _, decision = verdict(scanner, prose(30, 4) + " " + text + " " + prose(30, 6))
    assert decision.action is Action.BLOCK


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(RUSSIAN.split() + GREEK.split()), min_size=30, max_size=80))
def test_genuine_text_in_another_script_never_matches_a_latin_secret(scanner, words):
    report, _ = verdict(scanner, " ".join(words))
    assert not [f for f in report.findings if f.secret in ("halcyon", "other")]
