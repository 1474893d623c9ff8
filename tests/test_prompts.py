"""Prompt texts (zh + en), the courtesy rules, and the WAV build with espeak-ng + sox."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from hotline.agi import say_zh
from hotline.agi.prompts import (
    PROMPT_NAMES,
    MissingToolError,
    PromptFileError,
    UnknownPromptError,
    build,
    build_zh_digits,
    estimated_seconds,
    load_prompts,
    prompt,
    voice_for,
)

# Wording that would promise a visit or arrival time.
VISIT_TIME_PROMISES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"点(?:钟|前|到|之前|以前|左右)",
        r"(?:小时|分钟|天)(?:内|之内|以内)",
        r"(?:今天|明天|后天|上午|下午|晚上|马上|立即|立刻)\S{0,4}(?:上门|到达|赶到|到场|派人)",
        r"上门时间(?:是|为)",
        r"\bwithin\s+\S+\s+(?:hours?|minutes?|days?)\b",
        r"\bo'?clock\b",
        r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)",
        r"\b(?:will|'ll|shall)\s+(?:come|visit|arrive|be (?:there|with you))\b",
        r"\b(?:today|tonight|tomorrow|this (?:morning|afternoon|evening))\b",
    )
]

# One prompt per item the call flows need (brief: inbound and outbound flows).
REQUIRED = {
    "welcome", "language-hint", "unit-identified", "unit-building", "unit-entrance",
    "unit-room", "unit-choice-intro", "press", "for", "enter-unit", "unit-not-found",
    "try-again", "main-menu", "invalid-choice", "no-input", "transferring", "after-hours",
    "repair-category-menu", "emergency-ack", "record-after-beep", "ticket-number-is",
    "confirm-or-rerecord", "report-confirmed", "complaint-category-menu", "complaint-record",
    "complaint-about-staff",
    "complaint-registered", "fees-amount-due", "fees-yuan", "fees-for", "fees-months",
    "fees-press-cashier", "fees-no-arrears", "goodbye", "technical-problem",
    "followup-intro-repair", "followup-intro-complaint", "followup-rate", "followup-work-done",
    "followup-comment", "followup-agent", "followup-thanks", "arrears-intro", "arrears-menu",
    "arrears-will-pay", "arrears-already-paid", "notice-intro", "notice-repeat",
    "visitor-at-gate", "visitor-menu", "visitor-admitted", "visitor-refused",
    "appointment-intro", "appointment-confirmed", "abandon", "missed-you",
    # Mandarin number words (agi/say_zh.py)
    "num-ten", "num-hundred", "num-thousand", "num-wan", "num-yi", "num-liang", "fees-jiao",
    "fees-fen",
}  # fmt: skip


def promises_visit_time(text: str) -> bool:
    return any(pattern.search(text) for pattern in VISIT_TIME_PROMISES)


def wav_facts(path: Path) -> tuple[int, int, int, int]:
    """Rate, channels, sample width and frame count."""
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()


def test_every_prompt_has_zh_and_en() -> None:
    for name, texts in load_prompts().items():
        assert set(texts) == {"zh", "en"}, name


def test_required_prompts_exist() -> None:
    assert {f"hotline/{name}" for name in REQUIRED} <= PROMPT_NAMES


def test_zh_texts_are_mandarin_and_en_texts_english_except_language_hints() -> None:
    for name, texts in load_prompts().items():
        if name == "hotline/language-hint":
            # Each language set offers the *other* language, in that language.
            assert voice_for(texts["zh"], "zh") == "en"
            assert voice_for(texts["en"], "en") == "cmn"
            continue
        assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), name
        assert texts["en"].isascii(), name


@pytest.mark.parametrize(
    "bad",
    [
        "维修人员将在2小时内上门。",
        "师傅下午3点前到。",
        "我们明天上门维修。",
        "A technician will visit within 2 hours.",
        "Our staff will be there at 3 o'clock.",
        "We will come at 10am.",
    ],
)
def test_visit_time_check_catches_promises(bad: str) -> None:
    assert promises_visit_time(bad)


def test_no_prompt_promises_a_visit_time() -> None:
    offenders = [
        (name, lang, text)
        for name, texts in load_prompts().items()
        for lang, text in texts.items()
        if promises_visit_time(text)
    ]
    assert offenders == []


def test_amount_prompts_hold_no_numbers() -> None:
    # Amounts, months and ticket numbers are spoken by SAY NUMBER / SAY DIGITS.
    texts = load_prompts()
    for name in ("fees-amount-due", "fees-yuan", "fees-for", "fees-months", "ticket-number-is",
                 "num-ten", "num-liang", "fees-jiao"):  # fmt: skip
        for text in texts[f"hotline/{name}"].values():
            assert not re.search(r"\d", text), name


def test_prompt_checks_names() -> None:
    assert prompt("hotline/welcome") == "hotline/welcome"
    with pytest.raises(UnknownPromptError):
        prompt("hotline/no-such-prompt")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[welcome]\nzh = 你好\nen = Hello\n", "bad prompt name"),
        ("[hotline/a]\nzh = 你好\nfr = Bonjour\n", "unknown language"),
        ("[hotline/a]\nzh =\nen = Hello\n", "empty"),
        ("[hotline/a]\nzh = 你好\n[hotline/a]\nen = Hello\n", "already exists"),
    ],
)
def test_malformed_prompt_files_are_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptFileError, match=message):
        load_prompts(path)


def test_estimated_seconds_grow_with_text() -> None:
    short = estimated_seconds("hotline/fees-yuan", "zh")
    long = estimated_seconds("hotline/after-hours", "zh")
    assert 0 < short < 1.5 < long
    assert estimated_seconds("hotline/main-menu", "en") > estimated_seconds("hotline/goodbye", "en")


BUILT = ["hotline/welcome", "hotline/language-hint", "hotline/ticket-number-is"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("sounds")
    return out, build(out, names=BUILT)


def test_build_writes_asterisk_layout(built: tuple[Path, list[Path]]) -> None:
    out, paths = built
    assert sorted(paths) == sorted(
        out / lang / f"{name}.wav" for lang in ("zh", "en") for name in BUILT
    )
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix != ".wav"]


def test_built_wavs_are_8khz_mono_16bit_speech(built: tuple[Path, list[Path]]) -> None:
    _, paths = built
    for path in paths:
        rate, channels, width, frames = wav_facts(path)
        assert (rate, channels, width) == (8000, 1, 2), path
        # Canonical header only: no LIST/INFO or other metadata chunk.
        assert path.stat().st_size == 44 + frames * 2, path
        with wave.open(str(path), "rb") as wav:
            samples = memoryview(wav.readframes(wav.getnframes())).cast("h")
        # sox normalises every prompt to a -3 dBFS peak (0.708 of full scale).
        assert 22500 < max(abs(s) for s in samples) < 23700, path


def test_estimates_match_built_lengths(built: tuple[Path, list[Path]]) -> None:
    _, paths = built
    for path in paths:
        lang, name = path.parts[-3], f"hotline/{path.stem}"
        actual = wav_facts(path)[3] / 8000
        assert 0.5 * actual < estimated_seconds(name, lang) < 2 * actual, (path, actual)


def test_build_is_reproducible(built: tuple[Path, list[Path]], tmp_path: Path) -> None:
    out, paths = built
    again = build(tmp_path, names=BUILT)
    for first, second in zip(sorted(paths), sorted(again), strict=True):
        assert first.relative_to(out) == second.relative_to(tmp_path)
        assert first.read_bytes() == second.read_bytes(), first


def test_build_only_requested_languages(tmp_path: Path) -> None:
    paths = build(tmp_path, langs=("en",), names=["hotline/goodbye"])
    assert paths == [tmp_path / "en" / "hotline" / "goodbye.wav"]
    assert not (tmp_path / "zh").exists()


def test_build_rejects_unknown_prompt(tmp_path: Path) -> None:
    with pytest.raises(UnknownPromptError):
        build(tmp_path, names=["hotline/nope"])


def test_missing_tools_name_the_debian_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"apt-get install espeak-ng sox"):
        build(tmp_path, names=["hotline/goodbye"])


def test_mandarin_digits_for_say_digits(tmp_path: Path) -> None:
    written = build_zh_digits(tmp_path)
    names = sorted(p.stem for p in written)
    assert names == sorted([*"0123456789", "star", "pound"])
    for path in written:
        assert path.parent == tmp_path / "zh" / "digits"
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 800  # a spoken word, not silence


def test_build_speaks_the_mandarin_number_words(tmp_path: Path) -> None:
    # Every word agi/say_zh.py plays is either built here or a zh digit (build_zh_digits).
    words = sorted(
        {*say_zh.PROMPTS.values(), say_zh.JIAO, say_zh.FEN} - {f"digits/{d}" for d in range(10)}
    )
    for path in build(tmp_path, langs=("zh",), names=words):
        frames = wav_facts(path)[3]
        assert 0.1 < frames / 8000 < 2, path  # one syllable (万, 两...), not silence
