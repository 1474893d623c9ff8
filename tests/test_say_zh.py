"""Mandarin number reading: tricky values by hand, and every value up to 10**5 (and a spread
beyond) read back by an independent parser."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from hotline.agi import say_zh
from hotline.agi.prompts import PROMPT_NAMES, ZH_DIGITS

CHARS = {
    **dict(zip("0123456789", "零一二三四五六七八九", strict=True)),
    "liang": "两", "10": "十", "100": "百", "1000": "千", "1e4": "万", "1e8": "亿",
}  # fmt: skip
# Prompt name -> what it says in Mandarin, as prompts.txt and the digit files have it.
SPOKEN = {
    **{f"digits/{d}": ZH_DIGITS[d] for d in "0123456789"},
    "hotline/num-liang": "两", "hotline/num-ten": "十", "hotline/num-hundred": "百",
    "hotline/num-thousand": "千", "hotline/num-wan": "万", "hotline/num-yi": "亿",
    "hotline/fees-yuan": "元", "hotline/fees-jiao": "角", "hotline/fees-fen": "分",
    "hotline/fees-months": "个月",
}  # fmt: skip


def text(n: int) -> str:
    return "".join(CHARS[w] for w in say_zh.number_words(n))


def spoken(names: list[str]) -> str:
    return "".join(SPOKEN[name] for name in names)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "零"), (1, "一"), (2, "二"), (10, "十"), (11, "十一"), (12, "十二"), (20, "二十"),
        (22, "二十二"), (100, "一百"), (101, "一百零一"), (110, "一百一十"), (111, "一百一十一"),
        (200, "两百"), (220, "两百二十"), (1001, "一千零一"), (1010, "一千零一十"),
        (1100, "一千一百"), (1280, "一千二百八十"), (2000, "两千"), (2222, "两千二百二十二"),
        (10000, "一万"), (10001, "一万零一"), (10010, "一万零一十"), (12000, "一万两千"),
        (20002, "两万零二"), (100000, "十万"), (100010, "十万零一十"),
        (1000100, "一百万零一百"), (1001000, "一百万一千"), (100000000, "一亿"),
        (100001000, "一亿零一千"), (100010000, "一亿零一万"), (120000000, "一亿两千万"),
        (200000000, "两亿"), (1000000000, "十亿"),
        (999999999999, "九千九百九十九亿九千九百九十九万九千九百九十九"),
    ],
)  # fmt: skip
def test_tricky_numbers(n: int, expected: str) -> None:
    assert text(n) == expected


DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
PLACE = {"十": 10, "百": 100, "千": 1000}


def parse(words: str) -> int:
    """Read Mandarin back to a number, independently of the reader: 零 is silent, a digit
    multiplies the place after it, 万 and 亿 close their section."""
    total = section = 0
    digit: int | None = None
    for ch in words:
        if ch in DIGIT:
            digit = DIGIT[ch]
        elif ch in PLACE:
            section += (1 if digit is None else digit) * PLACE[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10**4
            section, digit = 0, None
        elif ch == "亿":
            total = (total + section + (digit or 0)) * 10**8
            section, digit = 0, None
    return total + section + (digit or 0)


def well_formed(words: str) -> bool:
    """One 零 at a time, never first (but alone) nor last; 两 only before a unit; no 一十 first."""
    if words == "零":
        return True
    liang_ok = all(
        words[i + 1 : i + 2] in ("百", "千", "万", "亿") for i, c in enumerate(words) if c == "两"
    )
    return (
        "零零" not in words
        and not words.startswith("零")
        and not words.endswith("零")
        and not words.startswith("一十")
        and liang_ok
    )


def test_every_number_to_a_hundred_thousand_reads_back() -> None:
    for n in range(100_001):
        words = text(n)
        assert parse(words) == n and well_formed(words), (n, words)


def test_large_numbers_read_back() -> None:
    rng = random.Random(10)
    values = [rng.randrange(say_zh.LIMIT) for _ in range(20_000)]
    values += [10**k for k in range(12)] + [10**k + 1 for k in range(12)]
    for n in values:
        words = text(n)
        assert parse(words) == n and well_formed(words), (n, words)


@pytest.mark.parametrize("bad", [-1, say_zh.LIMIT])
def test_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        say_zh.number(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1280.50", "一千二百八十元五角"), ("1280.55", "一千二百八十元五角五分"),
        ("1280.05", "一千二百八十元零五分"), ("3.05", "三元零五分"), ("0.20", "两角"),
        ("0.02", "两分"), ("0", "零元"), ("2", "两元"), ("12", "十二元"), ("100.00", "一百元"),
        ("10010.10", "一万零一十元一角"), ("1280.5", "一千二百八十元五角"),
    ],
)  # fmt: skip
def test_amounts_in_yuan_jiao_fen(value: str, expected: str) -> None:
    assert spoken(say_zh.amount(Decimal(value))) == expected


@pytest.mark.parametrize(("n", "expected"), [(1, "一个月"), (2, "两个月"), (3, "三个月"),
                                             (12, "十二个月"), (22, "二十二个月")])  # fmt: skip
def test_months(n: int, expected: str) -> None:
    assert spoken(say_zh.months(n)) == expected


def test_every_word_is_a_prompt_or_a_mandarin_digit_the_build_writes() -> None:
    names = set(say_zh.PROMPTS.values()) | {say_zh.YUAN, say_zh.JIAO, say_zh.FEN, say_zh.MONTHS}
    digit_files = {f"digits/{d}" for d in ZH_DIGITS}
    assert names - digit_files <= PROMPT_NAMES
    assert names & digit_files == {f"digits/{d}" for d in "0123456789"}
