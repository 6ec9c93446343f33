"""docs/environment.md lists every keyword, storage keyword, property and alias -- from the code."""

from __future__ import annotations

from pathlib import Path

from distenv import HDF5StorageService, Trajectory
from distenv.environment.aliases import KEYWORD_ALIASES, METHOD_ALIASES
from distenv.environment.keywords import KEYWORDS
from distenv.environment.reference import (BEGIN, END, PROPERTY_MEANINGS, STORAGE_MEANINGS,
                                           generated)
from distenv.environment.services import constructor_keywords

DOC = Path(__file__).resolve().parent.parent / "docs" / "environment.md"
REGENERATE = "regenerate with: python -m distenv.environment.reference docs/environment.md"


def test_generated_reference_is_up_to_date():
    text = DOC.read_text()
    block = text[text.index(BEGIN):text.index(END) + len(END)]
    assert block == generated(), REGENERATE


def test_every_storage_keyword_and_property_has_a_meaning():
    named, _ = constructor_keywords(HDF5StorageService)
    assert sorted(set(named) - set(STORAGE_MEANINGS)) == [], "describe it in STORAGE_MEANINGS"
    assert sorted(set(Trajectory.SETTABLE_PROPERTIES) - set(PROPERTY_MEANINGS)) == []


def test_every_keyword_and_alias_appears_in_the_documentation():
    text = DOC.read_text()
    names = [k.name for k in KEYWORDS] + list(KEYWORD_ALIASES) + list(METHOD_ALIASES)
    assert [name for name in names if "`%s`" % name not in text] == []


def test_every_keyword_has_a_meaning_and_a_valid_default():
    for keyword in KEYWORDS:
        assert keyword.meaning.endswith(".")
        keyword.normalised_default()  # the default passes its own check
