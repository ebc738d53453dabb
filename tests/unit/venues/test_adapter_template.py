"""The adapter template stays complete: it implements every abstract method of the base."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from ttquant.model.instruments import spot
from ttquant.venues._template import TemplateAdapter, TemplateConfig
from ttquant.venues.adapter import LiveAdapter


def test_template_covers_every_abstract_method_of_the_base() -> None:
    assert not inspect.isabstract(TemplateAdapter)
    assert set(LiveAdapter.__abstractmethods__) <= set(vars(TemplateAdapter))


def test_template_methods_say_they_are_to_be_written() -> None:
    with pytest.raises(NotImplementedError):
        TemplateAdapter("EXAMPLE", TemplateConfig(), [spot("BTC/USDT", "EXAMPLE")])
    adapter = TemplateAdapter.__new__(TemplateAdapter)
    with pytest.raises(NotImplementedError):
        asyncio.run(adapter.subscribe_quotes("BTC/USDT@EXAMPLE"))
