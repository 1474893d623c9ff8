"""Numbers read the Mandarin way, as the prompt names to play in turn.

Asterisk's SAY NUMBER on a `zh` channel plays `digits/thousand`, `digits/hundred`... from the
English sounds, so zh calls read amounts, months and ticket numbers with our own prompts: the
Mandarin digits `digits/0`-`digits/9` (`hotline prompts build`) and the units of prompts.txt.

Reading rules: sections of four digits joined by 万 and 亿; one 零 for any run of zeros between
spoken digits (101 一百零一, 10010 一万零一十, 1000100 一百万零一百), none for the zeros
ending a section (110 一百一十, 1001000 一百万一千); a leading 1 before 十 is
silent (10 十, 12 十二, but 110 一百一十); 2 is 两 before 千, 万, 亿, before 百 when it leads the
number, and alone before a measure word (两个月, 两元); 二 elsewhere (二十, 十二, 一千二百).
"""

from __future__ import annotations

from decimal import Decimal

# Abstract words, mapped to prompt names below.
ZERO, LIANG, TEN, HUNDRED, THOUSAND, WAN, YI = "0", "liang", "10", "100", "1000", "1e4", "1e8"
PROMPTS = {
    LIANG: "hotline/num-liang",
    TEN: "hotline/num-ten",
    HUNDRED: "hotline/num-hundred",
    THOUSAND: "hotline/num-thousand",
    WAN: "hotline/num-wan",
    YI: "hotline/num-yi",
    **{str(d): f"digits/{d}" for d in range(10)},
}
YUAN, JIAO, FEN, MONTHS = (
    "hotline/fees-yuan",
    "hotline/fees-jiao",
    "hotline/fees-fen",
    "hotline/fees-months",
)
LIMIT = 10**12  # up to 9999 亿
_PLACES = (THOUSAND, HUNDRED, TEN, "")
_SECTIONS = (YI, WAN, "")


def number_words(n: int, *, measure: bool = False) -> list[str]:
    """The words of `n` (0 <= n < 10**12); `measure`: a measure word follows (两个月)."""
    if not 0 <= n < LIMIT:
        raise ValueError(f"cannot read {n} in Mandarin: 0 to {LIMIT - 1} only")
    if n == 0:
        return [ZERO]
    if n == 2 and measure:
        return [LIANG]
    words: list[str] = []
    gap = False  # zeros since the last spoken digit
    sections = (n // 10**8, n // 10**4 % 10**4, n % 10**4)
    for section_unit, section in zip(_SECTIONS, sections, strict=True):
        if section == 0:
            gap = gap or bool(words)
            continue
        # A section's trailing zeros are not read (一百万一千); the others make one 零.
        for place, digit in zip(_PLACES, f"{section:04d}".rstrip("0"), strict=False):
            if digit == "0":
                gap = gap or bool(words)
                continue
            if gap:
                words.append(ZERO)
                gap = False
            words += _digit(digit, place, first=not words, lone=section == 2 and section_unit)
            if place:
                words.append(place)
        if section_unit:
            words.append(section_unit)
    return words


def _digit(digit: str, place: str, *, first: bool, lone: bool | str) -> list[str]:
    if digit == "1" and place == TEN and first:
        return []  # 十, 十二, 十万
    if digit == "2" and (place == THOUSAND or (place == HUNDRED and first) or lone):
        return [LIANG]  # 两千, 两百 leading, 两万, 两亿
    return [digit]


def number(n: int, *, measure: bool = False) -> list[str]:
    """Prompt names reading `n` in Mandarin."""
    return [PROMPTS[w] for w in number_words(n, measure=measure)]


def amount(value: Decimal) -> list[str]:
    """`1280.50` as 一千二百八十元五角, `3.05` as 三元零五分, `0.2` as 两角."""
    fen_total = int((value.quantize(Decimal("0.01")) * 100).to_integral_value())
    if fen_total < 0:
        raise ValueError(f"cannot read a negative amount: {value}")
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    names: list[str] = []
    if yuan or not rest:
        names += [*number(yuan, measure=True), YUAN]
    if jiao:
        names += [*number(jiao, measure=True), JIAO]
    if fen:
        if yuan and not jiao:
            names.append(PROMPTS[ZERO])
        names += [*number(fen, measure=True), FEN]
    return names


def months(n: int) -> list[str]:
    """`3` as 三个月, `2` as 两个月."""
    return [*number(n, measure=True), MONTHS]
