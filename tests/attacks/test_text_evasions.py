"""Text tricks on a verbatim excerpt of 25 and of 60 words: does it still block?

Every case is a plain UTF-8 text file: an unrelated paragraph, the disguised excerpt,
another paragraph. The default policy blocks a verbatim run of 20 words, so every
case that a reader sees as the secret's own words must block. The same disguise
applied to unrelated text must not match any secret (it may be reported as disguise).
"""

from __future__ import annotations

from typing import Callable

import pytest

from .conftest import action, hole, kinds
from .texts import NEAR_TOPIC, UNRELATED, excerpt

Disguise = Callable[[list[str]], str]


def each_word(change: Callable[[str], str], every: int = 1) -> Disguise:
    return lambda words: " ".join(change(w) if i % every == 0 else w for i, w in enumerate(words))


def inside(mark: str) -> Callable[[str], str]:
    """`mark` in the middle of a word."""
    return lambda w: w[: len(w) // 2] + mark + w[len(w) // 2 :] if len(w) > 1 else w


def letters(table: dict[str, str]) -> Callable[[str], str]:
    return lambda w: "".join(table.get(c, c) for c in w)


def hyphenate(every: int, hyphen: str = "-", line: str = "\n") -> Disguise:
    """Hard-wrapped text with a word broken by a hyphen at the end of a line (`line`: what
    ends the line and starts the next one)."""
    def disguise(words: list[str]) -> str:
        out = []
        for i, w in enumerate(words):
            out.append(w[: len(w) // 2] + hyphen + line + w[len(w) // 2 :] if i % every == 0 and len(w) > 3 else w)
        return " ".join(out)
    return disguise


def strays(char: str, glued: bool, every: int = 3) -> Disguise:
    """`char` after every `every`th word, a blank before it or none."""
    return lambda ws: " ".join((w + ("" if glued else " ") + char) if i % every == every - 1 else w
                               for i, w in enumerate(ws))

def alternate_case(w: str) -> str:
    return "".join(c.upper() if i % 2 else c for i, c in enumerate(w))


CYRILLIC = dict(zip("aeopcxy", "аеорсхуі"))  # no i: see the separate case
ARMENIAN = dict(zip("ouhng", "օսհոց"))
CHEROKEE_CAPS = dict(zip("ABCDEHRSTVWLG", "ᎪᏴᏟᎠᎬᎻᏒᏚᎢᏙᏔᏞᏀ"))
ROMAN = dict(zip("cdilmvx", "ⅽⅾⅰⅼⅿⅴⅹ"))
SMALL_CAPS = dict(zip("abcdefghijklmnoprstuvwyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"))
FULLWIDTH = {chr(c): chr(c - 0x61 + 0xFF41) for c in range(0x61, 0x7B)}
MATH_BOLD = {chr(c): chr(c - 0x61 + 0x1D41A) for c in range(0x61, 0x7B)}
CIRCLED = {chr(c): chr(c - 0x61 + 0x24D0) for c in range(0x61, 0x7B)}
NEGATIVE_CIRCLED = {chr(c): chr(c - 0x61 + 0x1F150) for c in range(0x61, 0x7B)}
ACCENTS = dict(zip("aeiou", "áéíóú"))
PARENTHESIZED = {chr(c): chr(c - 0x61 + 0x249C) for c in range(0x61, 0x7B)}
REGIONAL = {chr(c): chr(c - 0x61 + 0x1F1E6) for c in range(0x61, 0x7B)}


def hash_letter(c: str, i: int) -> bool:
    """A fixed pseudo-random choice per letter and place (random case that tests can repeat)."""
    return (ord(c) * 2654435761 + i * 40503) % 7 < 3

# name -> (disguise, reason when it is a hole for both lengths, or None)
CASES: dict[str, tuple[Disguise, str | None]] = {
    "plain": (" ".join, None),
    "alternating case": (each_word(alternate_case), None),
    "punctuation between words": (" ... ".join, None),
    "dots instead of spaces": (".".join, None),
    "underscores instead of spaces": ("_".join, None),
    "one word per line": ("\n".join, None),
    "braille blank instead of spaces": ("\u2800".join, None),
    "zero-width joiner in every word": (each_word(inside("\u200d")), None),
    "word joiner in every word": (each_word(inside("\u2060")), None),
    "bidi marks between words": ("\u200f \u200e".join, None),
    "Cyrillic a e o p c x y": (each_word(letters(CYRILLIC)), None),
    "Armenian o u h n g": (each_word(letters(ARMENIAN)), None),
    "Cherokee capitals in upper case text": (lambda ws: " ".join(letters(CHEROKEE_CAPS)(w.upper()) for w in ws), None),
    "Roman numeral letters": (each_word(letters(ROMAN)), None),
    "fullwidth letters": (each_word(letters(FULLWIDTH)), None),
    "mathematical bold letters": (each_word(letters(MATH_BOLD)), None),
    "circled letters": (each_word(letters(CIRCLED)), None),
    "excerpt repeated five times": (lambda ws: " ".join(ws * 5), None),
    "Cyrillic i (U+0456)": (each_word(lambda w: w.replace("i", "\u0456")), None),
    "combining acute on every word": (each_word(lambda w: w[0] + "\u0301" + w[1:]), None),
    "combining strikethrough (U+0336)": (each_word(lambda w: "".join(c + "\u0336" for c in w)), None),
    "one dot below (U+0323) every 4th word": (each_word(lambda w: w[0] + "\u0323" + w[1:], every=4), None),
    "accented vowel in every 4th word": (each_word(lambda w: w.replace("e", "é", 1).replace("a", "á", 1), every=4),
                                         None),
    "Turkish dotted capital I in upper case": (lambda ws: " ".join(w.upper().replace("I", "İ") for w in ws), None),
    "Latin small capitals": (each_word(letters(SMALL_CAPS)), None),
    "negative circled letters": (each_word(letters(NEGATIVE_CIRCLED)), None),
    "letter-spaced words": (each_word(" ".join), None),
    "hyphenated line breaks every 4th word": (hyphenate(4), None),
    # found by helper-31: other line ends than a line feed, and lines quoted in a reply
    "hyphenated line breaks every 4th word, quoted in a reply": (hyphenate(4, line="\n> > "), None),
    "soft hyphens at line ends every 4th word, quoted in a reply": (hyphenate(4, "\u00ad", "\n> "), None),
    "hyphenated line breaks every 4th word, lines padded with 30 blanks": (
        hyphenate(4, line=" " * 30 + "\n" + " " * 30), None),
    **{f"hyphenated line breaks every 4th word, each a {what}": (hyphenate(4, line=char), None)
       for what, char in (("paragraph separator", "\u2029"), ("next line (NEL)", "\x85"), ("form feed", "\x0c"))},
    "Hangul filler instead of spaces": ("\u3164".join, None),
    "right-to-left override, letters stored reversed": (each_word(lambda w: "\u202e" + w[::-1] + "\u202c"), None),
    "one right-to-left override over the whole excerpt": (lambda words: "\u202e" + " ".join(words)[::-1], None),
    "superscript footnote marks on every 3rd word": (
        lambda ws: " ".join(w + "¹²³⁴⁵⁶⁷⁸⁹"[i % 9] if i % 3 == 0 else w for i, w in enumerate(ws)), None),
    "citation marks [n] after every 3rd word": (
        lambda ws: " ".join(f"{w} [{i}]" if i % 3 == 0 else w for i, w in enumerate(ws)), None),
    "CamelCase, no spaces": (lambda ws: "".join(w[:1].upper() + w[1:] for w in ws), None),
    # found while closing the holes above
    "random case in every word": (each_word(lambda w: "".join(c.upper() if (hash_letter(c, i)) else c
                                                             for i, c in enumerate(w))), None),
    "right-to-left override on every 4th word only": (
        lambda ws: " ".join("\u202e" + w[::-1] + "\u202c" if i % 4 == 0 else w for i, w in enumerate(ws)), None),
    "right-to-left override to the end of the line, text stored reversed": (
        lambda ws: "\u202e" + " ".join(ws)[::-1], None),
    "letter-spaced words, two blanks between words": (lambda ws: "  ".join(" ".join(w) for w in ws), None),
    "letters separated by dots": (each_word(".".join), None),
    "hyphenated line breaks, CRLF and indented lines": (
        lambda ws: " ".join(w[: len(w) // 2] + "-\r\n    " + w[len(w) // 2:] if i % 3 == 0 and len(w) > 3 else w
                            for i, w in enumerate(ws)), None),
    "Unicode hyphen (U+2010) at the end of lines": (
        lambda ws: " ".join(w[: len(w) // 2] + "\u2010\n" + w[len(w) // 2:] if i % 4 == 0 and len(w) > 3 else w
                            for i, w in enumerate(ws)), None),
    "soft hyphen at the end of every 2nd line": (
        lambda ws: " ".join(w[: len(w) // 2] + "\u00ad\n" + w[len(w) // 2:] if i % 2 == 0 and len(w) > 3 else w
                            for i, w in enumerate(ws)), None),
    "small capitals with an acute on every letter": (
        each_word(lambda w: "".join(SMALL_CAPS.get(c, c) + "\u0301" for c in w)), None),
    "parenthesized letters": (each_word(letters(PARENTHESIZED)), None),
    "regional indicator letters, zero-width space between": (
        each_word(lambda w: "\u200b".join(REGIONAL.get(c, c) for c in w)), None),
    "footnote numbers as plain digits glued to every 3rd word": (
        lambda ws: " ".join(f"{w}{i % 9 + 1}" if i % 3 == 0 else w for i, w in enumerate(ws)), None),
    "footnote numbers of up to three digits on every 2nd word": (
        lambda ws: " ".join(f"{w}{7 * i + 3}" if i % 2 == 0 else w for i, w in enumerate(ws)), None),
    "one footnote number glued to the middle word": (
        lambda ws: " ".join(f"{w}4" if i == len(ws) // 2 else w for i, w in enumerate(ws)), None),
    "four-digit numbers glued to every 3rd word": (
        lambda ws: " ".join(f"{w}{1000 + 37 * i}" if i % 3 == 0 else w for i, w in enumerate(ws)), None),
    "numbers glued before every 3rd word": (
        lambda ws: " ".join(f"{i + 1}{w}" if i % 3 == 0 else w for i, w in enumerate(ws)), None),
    "a number after the punctuation glued to every word": (lambda ws: " ".join(f"{w},{i}" for i, w in enumerate(ws)),
                                                           None),
    "a digit instead of every space": (lambda ws: "".join(f"{w}{i % 10}" for i, w in enumerate(ws)), None),
    "all capitals glued, no spaces": (lambda ws: "".join(w.upper() for w in ws), None),
    "a run of twenty soft hyphens in every word": (each_word(inside("\u00ad" * 20)), None),
    # found attacking the glued-number speedups (attack5): missed with DLP_SPEEDUPS=0 too
    "a digit in the middle of every 5th word": (
        lambda ws: " ".join(inside(str(i % 10))(w) if i % 5 == 0 else w for i, w in enumerate(ws)), None),
    "a digit in the middle of every 3rd word": (
        lambda ws: " ".join(inside(str(i % 10))(w) if i % 3 == 0 else w for i, w in enumerate(ws)), None),
    # found attacking the speedups of stop 33 (attack 13): missed by the code before them too
    # found attacking stop 37's joins: marks of every kind inside words, in every word and in chains
    "a digit in the middle of every word": (
        lambda ws: " ".join(inside(str(i % 10))(w) for i, w in enumerate(ws)), None),
    "two digits in the middle of every 2nd word": (each_word(inside("42"), every=2), None),
    "a digit after the first letter and before the last of every 3rd word": (
        each_word(lambda w: w[0] + "7" + w[1:-1] + "3" + w[-1] if len(w) > 2 else w, every=3), None),
    "a CJK character in the middle of every 3rd word": (each_word(inside("日"), every=3), None),
    # found attacking stop 37's joins (helper-28): a letter of another script inside a word is no
    # token of its own, and was read as part of the word
    **{f"{what} in the middle of every {every}": (each_word(inside(char), every={"word": 1, "3rd word": 3}[every]),
                                                   None)
       for what, char in (("a Cyrillic letter", "ж"), ("a Greek letter", "λ"), ("an Arabic letter", "ب"),
                          ("a Hangul syllable", "한"), ("a Devanagari letter", "क"), ("four Cyrillic letters", "жшщы"))
       for every in ("word", "3rd word")},
    # found attacking stop 37's joins (helper-28): one character that is no letter inside a word cuts it in two
    **{f"{what} in the middle of every {every}": (each_word(inside(char), every={"word": 1, "3rd word": 3,
                                                                                  "8th word": 8}[every]), None)
       for what, char in (("a hyphen", "-"), ("a full stop", "."), ("an apostrophe", "'"), ("a slash", "/"),
                          ("an emoji", "🙂"), ("a degree sign", "°"), ("a superscript two", "²"))
       for every in ("word", "3rd word", "8th word")},
    # found by helper-29 attacking the reading of words cut in two
    "a hyphen in every 4th word and a time between every two words": (
        lambda ws: " ".join((inside("-")(w) if i % 4 == 0 else w) + f" 8:{i % 60:02d}" for i, w in enumerate(ws)),
        None),
    "a hyphen in every 3rd word and a digit glued to every word": (
        lambda ws: " ".join((inside("-")(w) if i % 3 == 0 else w) + str(i % 10) for i, w in enumerate(ws)),
        "a word cut in two stands between blanks: the number glued to it (mo-lecular1) is a mark of the other "
        "reading, and no reading drops it and joins the pieces"),
    "hyphens after every 2nd letter of every word": (
        each_word(lambda w: "-".join(w[k:k + 2] for k in range(0, len(w), 2))), None),
    "two hyphens in the middle of every 3rd word": (each_word(inside("--"), every=3), None),
    "two emoji in the middle of every 3rd word": (each_word(inside("🙂🙂"), every=3), None),
    # found by helper-29 (a blank inside a word cuts it in two tokens); read since stop 38
    **{f"{what} in the middle of every {every}": (each_word(inside(char), every={"word": 1, "5th word": 5,
                                                                                  "10th word": 10}[every]), None)
       for what, char in (("a space", " "), ("a no-break space", "\u00a0"), ("a thin space", "\u2009"),
                          ("a tab", "\t"), ("a line break", "\n"), ("a CRLF line break", "\r\n"),
                          ("an ideographic space", "\u3000"))
       for every in ("word", "5th word", "10th word")},
    # found by helper-30 attacking the reading of words cut by a blank
    **{f"{what} in the middle of every word": (each_word(inside(chars)), None)
       for what, chars in (("two spaces", "  "), ("a space before a line break", " \n"), ("a carriage return", "\r"),
                           ("a line separator", "\u2028"), ("two no-break spaces", "\u00a0\u00a0"))},
    "4,200 chained cut words before the excerpt, a space in the middle of every word": (
        lambda ws: "t he re sin " * 1400 + " ".join(inside(" ")(w) for w in ws), None),
    "a space in the middle of every word, after 't he' chains that mislead": (
        lambda ws: "when t he has h ad ha s had " + " ".join(inside(" ")(w) for w in ws), None),
    "every word cut in three by spaces": (
        each_word(lambda w: w[: len(w) // 3] + " " + w[len(w) // 3 : 2 * len(w) // 3] + " " + w[2 * len(w) // 3 :]
                  if len(w) > 2 else w),
        "a word is read whole from two pieces only (mo le cular stays three words)"),
    "a hyphen and a space in the middle of every word": (each_word(inside("- ")), None),
    "a space, a full stop and a space in the middle of every 3rd word": (each_word(inside(" . "), every=3), None),
    "a comma and a no-break space in the middle of every word": (each_word(inside(",\u00a0")), None),
    "the blanks moved a letter into the next word": (
        lambda ws: moved_blanks(" ".join(ws)),
        "every word then ends in the next word's first letter (Batchesm adet heo): no piece is the word"),
    "a space after the first letter of every word": (
        each_word(lambda w: w[0] + " " + w[1:] if len(w) > 1 else w),
        "a word of one letter and the first letters of the words around it make a run of single letters one "
        "blank apart, which the tokeniser reads as letter-spaced text (i s h eld: ish eld), and no reading "
        "cuts it back"),
    "a space before the last letter of every 3rd word": (
        each_word(lambda w: w[:-1] + " " + w[-1] if len(w) > 1 else w, every=3), None),
    # found by helper-28, kept as they stand
    "a digit in the middle of every word and in place of every 4th blank": (
        lambda ws: "".join(inside("1")(w) + ("8" if i % 4 == 3 else " ") for i, w in enumerate(ws)).strip(),
        "a digit in place of a blank glues two words that the joins read as one (t1he8molecular: themolecular); "
        "the reading without marks cuts both back into pieces"),
    "three CJK characters in the middle of every 3rd word": (each_word(inside("日本語"), every=3),
                                                              "three CJK characters side by side are no mark (Japanese "
                                                              "text between English words), so no join"),
    "a digit inside and a Cyrillic letter glued after every 3rd word": (each_word(lambda w: inside("4")(w) + "ж",
                                                                                  every=3),
                                                                         "the joined word keeps its tail (heldж): "
                                                                         "one reading joins, the other takes tails off"),
    "hard-wrapped, a digit inside every broken word": (
        lambda ws: " ".join(w[: len(w) // 2] + "-\n" + inside("2")(w[len(w) // 2 :]) if i % 3 == 0 and len(w) > 3
                            else w for i, w in enumerate(ws)),
        "the word joined at the line break is one token with the number's piece beside it (mo-\\nlecula2r: "
        "molecula, 2, r); the join reads its pieces as the tokeniser cut them, not the joined word's"),
    "a digit in the middle of every word, CamelCase pairs": (
        lambda ws: " ".join(inside("5")(p) for p in pairs(ws, str.capitalize, str.capitalize)),
        "the pieces are joined (TheHa5lcyon: thehalcyon) or read as a pair, not both: a word joined is not "
        "cut where its pieces' capitals were"),
    "a time between every two words": (
        lambda ws: " ".join(f"{w} {8 + i % 10}:{7 * i % 60:02d}" for i, w in enumerate(ws)), None),
    "a date between every two words": (
        lambda ws: " ".join(f"{w} {1 + i % 28}/{1 + i % 12}/20{i % 30:02d}" for i, w in enumerate(ws)), None),
    "a phone number glued after every 2nd word": (
        each_word(lambda w: f"{w}+1-713-853-{1000 + len(w)}", every=2), None),
    "a time glued inside every 3rd word": (each_word(inside("8:07"), every=3), None),
    "base64 in groups of four characters, a blank between": (
        lambda ws: "\n".join(" ".join(line[k:k + 4] for k in range(0, len(line), 4))
                             for line in _lines_of(_base64(" ".join(ws)), 64)),
        "a base64 run is one word of the alphabet: groups with blanks between are no run"),
    "UTF-7, a line a shift without its closing '-', folded at 76 columns": (
        lambda ws: "\n".join("\n".join(_lines_of("+" + _base64(" ".join(ws[i:i + 12]), "utf-16-be").rstrip("="), 76))
                             for i in range(0, len(ws), 12)),
        "the folded lines read as one base64 run, and the 7-bit reading decodes the first line of each shift"),
    # found attacking stop 34's tokeniser (attack 14): two words glued in CamelCase stay one token
    "CamelCase pairs: every second space left out": (lambda ws: " ".join(pairs(ws, str.capitalize, str.capitalize)), None),
    "camelCase pairs, the first word small": (lambda ws: " ".join(pairs(ws, str.lower, str.capitalize)), None),
    "pairs of a word in capitals and a capitalised one": (lambda ws: " ".join(pairs(ws, str.upper, str.capitalize)),
                                                          None),
    "CamelCase pairs, a number glued to every 3rd pair": (
        lambda ws: " ".join(f"{p}{i}" if i % 3 == 0 else p for i, p in enumerate(pairs(ws, str.capitalize, str.capitalize))),
        None),
    "CamelCase pairs, no blank after a full stop": (
        lambda ws: " ".join(pairs(ws, str.capitalize, str.capitalize)).replace(". ", "."), None),
    # found attacking the pairs above: one character of another script after every 3rd word
    **{f"{what} after every 3rd word{', glued' if glued else ''}": (strays(char, glued), None)
       for what, char in (("a CJK character", "日"), ("a CJK character beyond U+FFFF", "\U00020000"),
                          ("a kana", "あ"), ("a Thai letter", "ก"), ("a Hangul syllable", "한"),
                          ("an Arabic letter", "ب"), ("a Hebrew letter", "ש"), ("a Cyrillic letter without lookalike", "ж"),
                          ("two Cyrillic letters", "жш"))
       for glued in (False, True)},
    "a Greek lookalike letter after every 3rd word": (strays("α", False), None),
    # found by attack 15
    "two Cyrillic letters apart after every 3rd word": (strays("ж ж", False), None),
    "two CJK characters after every 3rd word": (strays("日本", False), None),
    "three Cyrillic letters after every 3rd word": (strays("жшщ", False), None),
    "a Cyrillic letter glued on both sides of every 3rd word": (each_word(lambda w: f"ж{w}ж", every=3), None),
    "a Cyrillic letter glued before every 3rd word, capitalised": (each_word(lambda w: "ж" + w.capitalize(), every=3),
                                                                   None),
    "a Cyrillic letter glued after every 3rd word, in capitals": (each_word(lambda w: w.upper() + "ж", every=3), None),
    "CamelCase pairs, a Cyrillic letter glued to each": (
        lambda ws: " ".join(p + "ж" for p in pairs(ws, str.capitalize, str.capitalize)), None),
    "random case and a Cyrillic letter glued to every word": (
        each_word(lambda w: "".join(c.upper() if hash_letter(c, i) else c for i, c in enumerate(w)) + "ж"),
        "the letter glued on makes a random-case word long enough for the CamelCase cut (rEsiDUAL is one word, "
        "rEsiDUALж is r esi dualж), and the tokens themselves do not change without a new normaliser version"),
    # found testing stop 36's gate on words with strays glued to them
    "two CJK characters glued on both sides of every 3rd word": (each_word(lambda w: f"日本{w}日本", every=3), None),
    "two CJK characters glued on both sides of every word": (
        each_word(lambda w: f"日本{w}日本"),
        "a CJK character is a token of its own: glued on both sides of every word, four stand between two "
        "words, and more than two side by side are no mark (Japanese text between English words is text)"),
    "a Cyrillic letter and a CJK character glued on both sides of every word": (
        each_word(lambda w: f"ж日{w}ж日"),
        "as two CJK characters: the CJK character cuts the token, and three or more strays stand between "
        "two words"),
    # found attacking stop 36's gates on words with strays glued to them
    "a CamelCase pair and a word with a Cyrillic letter glued to it in turn": (lambda ws: pairs_and_tails(ws, "ж"), None),
    "a CamelCase pair and a word with a Korean particle glued to it in turn": (lambda ws: pairs_and_tails(ws, "는"),
                                                                              None),
    "a Cyrillic letter glued on both sides of every word": (each_word(lambda w: f"ж{w}ж"), None),
    "Korean particles glued on both sides of every word": (each_word(lambda w: f"는{w}를"), None),
    "a Cyrillic letter and a digit glued after every word": (each_word(lambda w: f"{w}ж7"), None),
    "a Cyrillic letter glued before every CamelCase pair": (
        lambda ws: " ".join("ж" + p for p in pairs(ws, str.capitalize, str.capitalize)), None),
    "a flag glued before every CamelCase pair": (
        lambda ws: " ".join("🇬🇧" + p for p in pairs(ws, str.capitalize, str.capitalize)), None),
    "a digit and a Cyrillic letter glued after every word": (each_word(lambda w: f"{w}7ж"), None),
    "an accented Latin letter glued after every 3rd word": (
        each_word(lambda w: f"{w}é", every=3),
        "a letter of the Latin range makes another word (coatingé): no reading takes letters off a word of its "
        "own script"),
    "U+FDF2 (one character NFKC makes four Arabic letters) glued after every 3rd word": (
        each_word(lambda w: f"{w}\ufdf2", every=3), None),
    "four Cyrillic letters glued after every word": (each_word(lambda w: f"{w}жшщы"), None),
    "a flag glued after every 3rd word": (each_word(lambda w: f"{w}🇬🇧", every=3), None),
    "a flag glued before every word": (each_word(lambda w: f"🇬🇧{w}"), None),
    "the trademark sign glued after every 2nd word": (each_word(lambda w: f"{w}™", every=2), None),
    "a flag and a number after every 3rd word": (strays("🇬🇧 7", False), None),
    "five flags after every 3rd word": (strays("🇬🇧🇺🇸🇫🇷🇩🇪🇯🇵", False), None),
    "three regional-indicator letters after every 3rd word": (strays("🇬🇧🇺", False), None),
    "two negative squared letters after every 3rd word": (strays("🅰🅱", False), None),
    "a flag and a Cyrillic letter after every 3rd word": (strays("🇬🇧 ж", False), None),
    "the trademark sign after every 3rd word": (strays("™", False), None),
    "a flag after every 3rd word": (strays("🇬🇧", False), None),
    "two flags after every 3rd word": (strays("🇬🇧🇺🇸", False), None),
    "a flag after every word": (strays("🇫🇷", False, every=1), None),
}



def moved_blanks(text: str) -> str:
    """Each blank before a letter moved one letter on (``the batch is`` -> ``theb atchi s``)."""
    chars, i = list(text), 0
    while i + 1 < len(chars):
        if chars[i] == " " and chars[i + 1].isalpha():
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            i += 1
        i += 1
    return "".join(chars)


def pairs_and_tails(words: list[str], stray: str) -> str:
    """Two words glued into a CamelCase pair and one word with `stray` glued to it, in turn
    (``TheHalcyon coatingж ProcessHolds``)."""
    out, i = [], 0
    while i < len(words):
        if len(out) % 2 == 0 and i + 1 < len(words):
            out.append(words[i].capitalize() + words[i + 1].capitalize())
            i += 2
        else:
            out.append(words[i] + stray)
            i += 1
    return " ".join(out)


def pairs(words: list[str], first: Callable[[str], str], second: Callable[[str], str]) -> list[str]:
    """Each two words glued into one, written `first` and `second` (``TheHalcyon CoatingProcess``)."""
    return [first(words[i]) + (second(words[i + 1]) if i + 1 < len(words) else "") for i in range(0, len(words), 2)]


def _base64(text: str, encoding: str = "utf-8") -> str:
    import base64

    return base64.b64encode(text.encode(encoding)).decode("ascii")


def _lines_of(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


# cases that are a hole for one length only
PARTIAL: dict[tuple[str, int], str] = {
    **{(name, 25): "after a full stop (added.жшщы) the letters stand alone: a word of four letters of another "
                   "script between English words, which no reading drops, and 25 words are left too short a run"
       for name in ("U+FDF2 (one character NFKC makes four Arabic letters) glued after every 3rd word",
                    "four Cyrillic letters glued after every word")},
}


def placed(disguised: str, filler: str = UNRELATED) -> str:
    return filler + "\n\n" + disguised + "\n\n" + filler


def _params():
    for name, (_, reason) in CASES.items():
        for n in (25, 60):
            why = reason or PARTIAL.get((name, n))
            yield pytest.param(name, n, id=f"{name}-{n}", marks=[hole(why)] if why else [])


@pytest.fixture(scope="module")
def reports(dlp, tmp_path_factory) -> dict[tuple[str, int], dict]:
    folder = tmp_path_factory.mktemp("text-evasions")
    paths = {}
    for i, (name, (disguise, _)) in enumerate(CASES.items()):
        for n in (25, 60):
            path = folder / f"case{i:02d}-{n}.txt"
            path.write_text(placed(disguise(excerpt(n))), encoding="utf-8")
            paths[(name, n)] = str(path)
            clean = folder / f"clean{i:02d}.txt"
            clean.write_text(placed(disguise(NEAR_TOPIC.split()), UNRELATED), encoding="utf-8")
            paths[(name, 0)] = str(clean)
    by_path = dlp.scan(folder)
    return {case: by_path[path] for case, path in paths.items()}


@pytest.mark.parametrize("name, n", list(_params()))
def test_a_disguised_excerpt_still_blocks(reports, name, n):
    report = reports[(name, n)]
    assert "document" in kinds(report, "halcyon") and action(report) == "block", report["findings"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_same_disguise_on_unrelated_text_matches_no_secret(reports, name):
    report = reports[(name, 0)]
    matched = [f for f in report["findings"] if f["kind"] != "obfuscation"]
    assert not matched and action(report) in ("allow", "warn")
