"""Fixtures of the language branch's tests."""
import pytest


@pytest.fixture(scope='module')
def tokenizer():
    """The tiny BPE tokenizer with the text format's tokens."""
    from llava_detseg.models.language import build_tiny_tokenizer
    return build_tiny_tokenizer(detseg_tokens=True)
