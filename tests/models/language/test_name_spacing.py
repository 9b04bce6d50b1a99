"""The class name after an open tag is tokenized like the later ones."""
import numpy as np
import pytest
import torch

from llava_detseg.models.language import LlavaLanguageBranch
from llava_detseg.models.language.constrained_decoding import \
    DetSegConstraint
from llava_detseg.models.language.name_spacing import (resolve_name_spacing,
                                                       space_after_open,
                                                       spacing_helps,
                                                       unspace_after_open)
from llava_detseg.models.language.special_tokens import add_detseg_tokens
from llava_detseg.structures import DetSegTextCodec

CLASSES = ('circle', 'square', 'triangle')
ANSWER = ('Answer: 2 <DET>triangle <loc_12><loc_345><loc_678><loc_999>; '
          'square <loc_1><loc_2><loc_3><loc_4></DET>')
CONV = [{'from': 'human', 'value': '<image>\nDetect all objects.'},
        {'from': 'gpt', 'value': ANSWER}]


# the tiny byte-level BPE ("Ġ" word prefix) and a SentencePiece LLaMA
# tokenizer in Vicuna's layout ("▁" word prefix)
TOKENIZERS = dict(bpe=('tiny_ckpt', 'Ġ'), llama=('tiny_ckpt_llama', '▁'))


def _llava_folder(request, kind: str) -> str:
    return request.getfixturevalue(TOKENIZERS[kind][0])['llava']


@pytest.fixture(scope='module', params=list(TOKENIZERS))
def tokenizer(request):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(_llava_folder(request, request.param))
    add_detseg_tokens(tok)
    return tok


def test_spacing_round_trips_codec_text():
    codec = DetSegTextCodec(CLASSES, min_region_area=4)
    sem = np.zeros((32, 32), np.uint8)
    sem[2:12, 3:15], sem[18:30, 16:30] = 1, 3
    text = codec.encode_response('2', [
        codec.encode_det(np.array([[1., 2, 9, 9], [4, 4, 20, 30]]),
                         np.array([2, 0]), (32, 32)),
        codec.encode_seg(sem), codec.det_block([])])
    spaced = space_after_open(text)
    assert spaced.count('<DET> triangle') == 1
    assert spaced.count('<SEG> circle') == 1
    assert '<DET></DET>' in spaced  # an empty block has no name to space
    assert unspace_after_open(spaced) == text
    assert space_after_open(spaced) == spaced  # spacing twice is a no-op


def test_tiny_tokenizer_gets_the_same_name_tokens_everywhere(tokenizer):
    assert spacing_helps(tokenizer)
    constraint = DetSegConstraint(tokenizer, DetSegTextCodec(CLASSES),
                                  'context', name_spacing=True)
    plain = DetSegConstraint(tokenizer, DetSegTextCodec(CLASSES), 'context')
    for kind in ('det', 'seg'):
        first = constraint.class_parts[(kind, True)]
        sep = len(constraint.separator[kind])
        later = [p[sep:] for p in constraint.class_parts[(kind, False)]]
        assert first == later, kind
        # without it 'triangle' after <DET> is spelled in other pieces
        assert plain.class_parts[(kind, True)] != later
    # each class starts with its own token at the first choice
    assert len(constraint.class_starts[('det', True)]) == len(CLASSES)


class _WordTokenizer:
    """Whitespace-blind toy tokenizer: one id per tag or word, so a name
    has the same tokens after an open tag and after a separator."""

    def __init__(self):
        self.vocab = {}

    def __call__(self, text, add_special_tokens=False):
        import re
        words = re.findall(r'<[^>]+>|[^\s<;]+|;', text)
        ids = [self.vocab.setdefault(w, len(self.vocab)) for w in words]
        return type('Enc', (), dict(input_ids=ids))()


def test_auto_leaves_a_tokenizer_that_needs_no_spacing():
    tok = _WordTokenizer()
    assert not spacing_helps(tok)
    assert resolve_name_spacing(tok, 'auto') is False
    assert resolve_name_spacing(tok, True) is True
    with pytest.raises(ValueError, match='name_spacing'):
        resolve_name_spacing(tok, 'yes')


@pytest.mark.parametrize('kind', list(TOKENIZERS))
def test_branch_trains_spaced_and_answers_in_the_format(request, kind):
    folder, word = _llava_folder(request, kind), TOKENIZERS[kind][1]
    torch.manual_seed(0)
    branch = LlavaLanguageBranch(folder, system_prompt='',
                                 max_new_tokens=24, special_tokens=dict())
    assert branch.name_spacing  # 'auto'
    tok = branch.tokenizer
    ids, _ = branch.conv_tokenizer.encode_train(CONV)
    det = ids.index(tok.convert_tokens_to_ids('<DET>'))
    # the first name is the word token the separator's items use
    assert tok.convert_ids_to_tokens(ids[det + 1]) == word + 'triangle'
    sep = ids.index(tok.convert_tokens_to_ids(';'), det)
    assert tok.convert_ids_to_tokens(ids[sep + 1]) == word + 'square'
    off = LlavaLanguageBranch(folder, system_prompt='',
                              special_tokens=dict(name_spacing=False))
    plain, _ = off.conv_tokenizer.encode_train(CONV)
    assert tok.convert_ids_to_tokens(plain[det + 1]) != word + 'triangle'
    hidden = [torch.randn(1, 17, 128) for _ in range(5)]
    opt = torch.optim.AdamW(branch.parameters(), lr=3e-3)
    for _ in range(100):
        loss = branch.loss(branch.image_tokens(hidden), [CONV], [0])['loss_lm']
        opt.zero_grad()
        loss.backward()
        opt.step()
    branch.eval()
    out = branch.predict(branch.image_tokens(hidden), [CONV[0]['value']],
                         [0])[0]
    # decoded without the space the tokenizer was given
    assert out == ANSWER
