"""The console's message catalogs (hotline/console/messages/*.json): one set of keys in every
language, every key a page or script names is there, and every word of the vocabularies the
screens show (kinds, categories, states, dispositions...) is translated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hotline.console.pages import HERE, load_messages
from hotline.core.ticket_states import ALL_STATES
from hotline.core.vocabulary import (
    CATEGORIES,
    CampaignKind,
    CampaignState,
    Disposition,
    Kind,
    Language,
    ReminderStage,
    Severity,
    UserRole,
)

# t('key') in templates, t("key") and t(`key`) in scripts (a literal key, no ${...}); a prefix
# ("kind." ~ k) is a vocabulary's, checked below.
LITERAL = re.compile(r"""\bt\((['"`])([\w.-]+)\1""")
VOCABULARIES: dict[str, list[Any]] = {
    "kind": list(Kind),
    "category": sorted({c for cats in CATEGORIES.values() for c in cats}),
    "severity": list(Severity),
    "ticket_state": sorted(ALL_STATES),
    "disposition": list(Disposition),
    "campaign": list(CampaignKind),
    "campaign_state": list(CampaignState),
    "stage": list(ReminderStage),
    "role": list(UserRole),
    "lang": list(Language),
    "state": ["free", "ringing", "on_call", "wrap_up", "paused", "offline"],  # the contract's
}


def sources() -> list[Path]:
    return sorted([*(HERE / "templates").glob("*.html"), *(HERE / "static").glob("*.js")])


def test_every_language_has_the_same_keys() -> None:
    catalogs = load_messages()  # raises if they differ
    assert set(catalogs) == {lang.value for lang in Language}


@pytest.mark.parametrize("path", sources(), ids=lambda p: p.name)
def test_every_key_a_page_names_is_in_the_catalog(path: Path) -> None:
    catalog = load_messages()["en"]
    text = path.read_text(encoding="utf-8")
    named = {m[2] for m in LITERAL.finditer(text) if not m[2].endswith(".")}
    assert named - set(catalog) == set()


@pytest.mark.parametrize("family", sorted(VOCABULARIES))
def test_every_word_of_a_vocabulary_is_translated(family: str) -> None:
    catalog = load_messages()["zh"]
    missing = [str(v) for v in VOCABULARIES[family] if f"{family}.{v}" not in catalog]
    assert missing == []
