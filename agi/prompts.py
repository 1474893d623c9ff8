"""The hotline's recorded prompts: their text (prompts.txt), names, durations and WAV build.

Asterisk finds a prompt `hotline/<name>` for a channel whose language is `zh` at
`<sounds>/zh/hotline/<name>.wav`; `build()` makes that tree with espeak-ng and sox.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path

PROMPTS_FILE = Path(__file__).with_name("prompts.txt")
LANGUAGES = ("zh", "en")
SAMPLE_RATE = 8000

# espeak-ng voice per language; "cmn" reads Latin text as English.
VOICES = {"zh": "cmn", "en": "en"}
_RAW_OUT = ("-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-")
# Resample to Asterisk's 8 kHz, then bring every prompt to the same -3 dBFS peak.
_EFFECTS = ("rate", "-h", str(SAMPLE_RATE), "norm", "-3")
_NAME = re.compile(r"hotline/[a-z0-9]+(?:-[a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class PromptFileError(ValueError):
    """prompts.txt is malformed (bad name, unknown language, empty text, duplicate)."""


class UnknownPromptError(KeyError):
    """A flow asked for a prompt that prompts.txt does not define."""


class MissingToolError(RuntimeError):
    """espeak-ng or sox is not installed."""


def load_prompts(path: Path | str | None = None) -> dict[str, dict[str, str]]:
    """Read a prompts file: prompt name -> language -> text, in file order."""
    parser = configparser.ConfigParser(
        delimiters=("=",), comment_prefixes=("#",), interpolation=None, strict=True
    )
    source = Path(path) if path is not None else PROMPTS_FILE
    try:
        parser.read_string(source.read_text(encoding="utf-8"), source=str(source))
    except configparser.Error as exc:
        raise PromptFileError(str(exc)) from exc
    prompts: dict[str, dict[str, str]] = {}
    for name in parser.sections():
        if not _NAME.fullmatch(name):
            raise PromptFileError(f"{source}: bad prompt name [{name}]: use hotline/<a-z0-9->")
        texts = dict(parser.items(name))
        for lang, text in texts.items():
            if lang not in LANGUAGES:
                raise PromptFileError(f"{source}: [{name}] unknown language {lang!r}")
            if not text.strip():
                raise PromptFileError(f"{source}: [{name}] {lang} is empty")
        prompts[name] = texts
    return prompts


_PROMPTS = load_prompts()
PROMPT_NAMES: frozenset[str] = frozenset(_PROMPTS)


def prompt(name: str) -> str:
    """Return `name` (e.g. "hotline/welcome") if the prompt exists; flows pass it to STREAM FILE."""
    if name not in PROMPT_NAMES:
        raise UnknownPromptError(name)
    return name


def estimated_seconds(name: str, lang: str) -> float:
    """A plausible spoken length of a prompt, for simulations that have no WAV to measure.

    Rates are fitted to what `build()` makes (espeak-ng at its default speed): Mandarin about
    0.37 s per character, English about 0.064 s per letter, plus a pause per punctuation mark.
    """
    text = _PROMPTS[prompt(name)][lang]
    pauses = len(re.findall(r"[，。、；：？！,.;:?!]", text))
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalnum() for ch in text) - cjk
    return round(0.2 + 0.37 * cjk + 0.064 * letters + 0.2 * pauses, 2)


def voice_for(text: str, lang: str) -> str:
    """The espeak-ng voice for a text: its language's, unless written in the other's script."""
    has_cjk = _CJK.search(text) is not None
    if lang == "zh" and not has_cjk:
        return VOICES["en"]
    if lang != "zh" and has_cjk:
        return VOICES["zh"]
    return VOICES[lang]


def _require_tools() -> tuple[str, str]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        missing = [tool for tool, found in (("espeak-ng", espeak), ("sox", sox)) if not found]
        raise MissingToolError(
            f"building prompts needs {' and '.join(missing)}: "
            "install the Debian packages with `apt-get install espeak-ng sox`"
        )
    return espeak, sox


def synthesise(text: str, voice: str, tools: tuple[str, str] | None = None) -> bytes:
    """Speak `text` as raw 8 kHz mono signed 16-bit little-endian PCM."""
    espeak, sox = tools or _require_tools()
    # Text goes in on stdin so that nothing in it is taken for an option.
    speech = subprocess.run(
        [espeak, "-v", voice, "-b", "1", "--stdout"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
    ).stdout
    # -R seeds sox's random generators and -D turns dither off: same input, same bytes.
    return subprocess.run(
        [sox, "-R", "-D", "-V1", "-t", "wav", "-", *_RAW_OUT, *_EFFECTS],
        input=speech,
        capture_output=True,
        check=True,
    ).stdout


def write_wav(path: Path, pcm: bytes) -> None:
    """Write a canonical 44-byte-header PCM WAV (no metadata chunks), replacing atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(pcm)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# Asterisk's core sound packages have no Mandarin digits, so SAY DIGITS on a zh channel would
# fall back to English. SAY DIGITS plays `digits/<digit>` (and `star`, `pound`) one by one.
ZH_DIGITS = {
    **dict(zip("0123456789", "零一二三四五六七八九", strict=True)),
    "star": "星号",
    "pound": "井号",
}


def build_zh_digits(out_dir: Path | str) -> list[Path]:
    """Write `<out_dir>/zh/digits/<name>.wav` for what SAY DIGITS speaks."""
    tools = _require_tools()
    written = []
    for name, text in ZH_DIGITS.items():
        path = Path(out_dir, "zh", "digits", f"{name}.wav")
        write_wav(path, synthesise(text, VOICES["zh"], tools))
        written.append(path)
    return written


def build(
    out_dir: Path | str,
    langs: Iterable[str] = LANGUAGES,
    names: Iterable[str] | None = None,
    prompts_file: Path | str | None = None,
) -> list[Path]:
    """Write `<out_dir>/<lang>/hotline/<name>.wav` for every prompt (or `names`); return paths."""
    tools = _require_tools()
    prompts = load_prompts(prompts_file) if prompts_file is not None else _PROMPTS
    wanted = list(prompts) if names is None else list(names)
    unknown = [name for name in wanted if name not in prompts]
    if unknown:
        raise UnknownPromptError(", ".join(unknown))
    written: list[Path] = []
    for lang in langs:
        for name in wanted:
            text = prompts[name].get(lang)
            if text is None:
                raise PromptFileError(f"[{name}] has no {lang} text")
            path = Path(out_dir, lang, f"{name}.wav")
            write_wav(path, synthesise(text, voice_for(text, lang), tools))
            written.append(path)
    return written
