"""The text format and the v1 template on a LLaMA-family (SentencePiece)
tokenizer: Vicuna's file layout, trained offline on generated text."""
import os

import numpy as np
import pytest

from llava_detseg.models.language import (IGNORE_INDEX, IMAGE_PLACEHOLDER,
                                          LLAVA_V1_SYSTEM,
                                          ConversationTokenizer)
from llava_detseg.models.language.name_spacing import (resolve_name_spacing,
                                                       space_after_open,
                                                       unspace_after_open)
from llava_detseg.models.language.special_tokens import (add_detseg_tokens,
                                                         setup_detseg_tokens)
from llava_detseg.structures import DetSegTextCodec, special_tokens

CLASSES = ('person', 'traffic light', 'circle', 'square', 'triangle')
ANSWER = ('Answer: 2 <DET>triangle <loc_12><loc_345><loc_678><loc_999>; '
          'traffic light <loc_1><loc_2><loc_3><loc_4></DET>')


def _load(folder, cls_name: str = 'LlamaTokenizer', detseg: bool = True):
    import transformers
    tok = getattr(transformers, cls_name).from_pretrained(folder)
    if detseg:
        add_detseg_tokens(tok)
    return tok


@pytest.fixture(scope='module')
def vicuna(llama_tokenizer_dirs):
    return _load(llama_tokenizer_dirs['vicuna'])


def _answer(seed: int = 0) -> str:
    """A whole ``<DET>`` + ``<SEG>`` answer of a generated shapes image."""
    from llava_detseg.datasets.generation.shapes import generate_image
    rng = np.random.default_rng(seed)
    _, sem, instances = generate_image(rng, 64, 96)
    codec = DetSegTextCodec(('circle', 'square', 'triangle'))
    boxes = np.array([[x, y, x + w, y + h]
                      for x, y, w, h in (i['bbox'] for i in instances)])
    labels = np.array([i['cls'] for i in instances])
    return codec.encode_response(
        str(len(instances)),
        [codec.encode_det(boxes, labels, sem.shape),
         codec.encode_seg(sem)]), codec, sem.shape


@pytest.mark.parametrize(
    'cls_name', ['LlamaTokenizer', 'LlamaTokenizerFast', 'AutoTokenizer'])
def test_vicuna_layout_loads_as_llama(llama_tokenizer_dirs, cls_name):
    import sentencepiece as spm
    from transformers import LlamaTokenizer
    folder = llama_tokenizer_dirs['vicuna']
    assert sorted(os.listdir(folder)) == [
        'special_tokens_map.json', 'tokenizer.model', 'tokenizer_config.json'
    ]
    tok = _load(folder, cls_name, detseg=False)
    # transformers 5 has one Llama class (tokenizers backend);
    # LlamaTokenizerFast is its alias
    assert isinstance(tok, LlamaTokenizer)
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert tok.pad_token is None and len(tok) == 1024
    # the converted tokenizer spells text as sentencepiece itself does
    # (the reference a "slow" tokenizer would be)
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(folder, 'tokenizer.model'))
    for text in ('USER: How many circles are there? ASSISTANT: 12',
                 LLAVA_V1_SYSTEM, 'Segment every traffic light.',
                 'naïve 漢字 \t  two  spaces'):
        assert tok(text).input_ids == [1] + sp.encode(text), text
    # byte fallback: nothing is <unk>, and every string decodes exactly
    ids = tok('naïve 漢字 \t  two  spaces', add_special_tokens=False).input_ids
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == 'naïve 漢字 \t  two  spaces'
    assert tok.convert_ids_to_tokens(ids)[0].startswith('▁')  # dummy prefix


def test_name_spacing_auto_follows_the_legacy_flag(llama_tokenizer_dirs,
                                                   vicuna):
    # Vicuna v1.5 (legacy=False): no "▁" after an added token, so the first
    # name after <DET> is spelled in word-internal pieces and spacing helps
    assert resolve_name_spacing(vicuna, 'auto') is True
    plain = vicuna.tokenize('<DET>triangle <loc_1>')
    assert plain[1] != '▁triangle'
    assert vicuna.tokenize(space_after_open('<DET>triangle <loc_1>'))[1] == \
        '▁triangle' == vicuna.tokenize('<loc_1>; triangle')[2]
    # legacy=True prefixes every piece after an added token: nothing to fix
    legacy = _load(llama_tokenizer_dirs['legacy'])
    assert legacy.tokenize('<DET>triangle <loc_1>')[1] == '▁triangle'
    assert resolve_name_spacing(legacy, 'auto') is False


def test_format_tokens_are_single_ids(vicuna):
    names = special_tokens()
    ids = vicuna.convert_tokens_to_ids(names)
    assert ids == list(range(1024, 1024 + len(names)))
    assert add_detseg_tokens(vicuna) == ids and len(vicuna) == max(ids) + 1
    # none of the base vocabulary's pieces, never split, in any neighbour
    text = ('x<DET>y<loc_0><loc_999>z</DET><SEG>a <poly><loc_5></poly>'
            '</SEG>;<DET></DET>')
    tokens = vicuna.tokenize(text)
    for name in ('<DET>', '</DET>', '<SEG>', '</SEG>', '<poly>', '</poly>',
                 '<loc_0>', '<loc_999>', '<loc_5>'):
        assert name in tokens, name
    assert not set(ids) & set(vicuna.all_special_ids)
    enc = vicuna(ANSWER, add_special_tokens=False).input_ids
    assert vicuna.decode(enc, skip_special_tokens=True) == ANSWER


def test_setup_detseg_tokens_on_a_llama(llama_tokenizer_dirs):
    from transformers import LlamaConfig, LlamaForCausalLM

    from llava_detseg.models.language.special_tokens import (DeltaEmbedding,
                                                             DeltaLinear)
    tok = _load(llama_tokenizer_dirs['vicuna'], detseg=False)
    llm = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2))
    ids = setup_detseg_tokens(llm, tok)
    assert ids == tok.convert_tokens_to_ids(special_tokens())
    emb, head = llm.get_input_embeddings(), llm.get_output_embeddings()
    assert isinstance(emb, DeltaEmbedding) and isinstance(head, DeltaLinear)
    assert emb.num_embeddings == head.out_features == len(tok) == 1024 + 1006


def _conv(answer: str) -> list:
    return [{
        'from': 'human',
        'value': '<image>\nDetect all objects.'
    }, {
        'from': 'gpt',
        'value': answer
    }, {
        'from': 'human',
        'value': 'How many squares are there?'
    }, {
        'from': 'gpt',
        'value': '3'
    }]


def _spans(labels: list) -> list:
    """The runs of supervised labels."""
    spans, run = [], []
    for t in labels + [IGNORE_INDEX]:
        if t != IGNORE_INDEX:
            run.append(t)
        elif run:
            spans, run = spans + [run], []
    return spans


def test_vicuna_v1_template(vicuna):
    answer, _, _ = _answer()
    conv = ConversationTokenizer(vicuna, text_transform=space_after_open)
    ids, labels = conv.encode_train(_conv(answer))
    bos, eos = vicuna.bos_token_id, vicuna.eos_token_id
    # one BOS, first; one EOS per answer, each ending its answer
    assert ids[0] == bos and ids.count(bos) == 1
    ends = [i for i, t in enumerate(ids) if t == eos]
    assert len(ends) == 2 and ends[-1] == len(ids) - 1
    assert ids.count(IMAGE_PLACEHOLDER) == 1
    # the prompt is the v1 template as one string would tokenize it: the
    # system prompt runs into "USER:" (no lone "▁" between them)
    image = ids.index(IMAGE_PLACEHOLDER)
    assert ids[1:image] == vicuna(
        f'{LLAVA_V1_SYSTEM} USER: ', add_special_tokens=False).input_ids
    tokens = vicuna.convert_ids_to_tokens(ids[1:image])
    assert tokens[-4:] == ['.', '▁USER', ':', '▁']
    # answer-only labels: IGNORE_INDEX outside the answers and their EOS
    assert len(labels) == len(ids)
    spans = _spans(labels)
    assert [s[-1] for s in spans] == [eos, eos]
    for t, lab in zip(ids, labels):
        assert lab in (IGNORE_INDEX, t)
    texts = [
        unspace_after_open(vicuna.decode(s, skip_special_tokens=True))
        for s in spans
    ]
    assert texts == [answer, '3']
    # inference prompts are the training sequence up to each answer
    first = conv.encode_prompt('<image>\nDetect all objects.')
    assert ids[:len(first)] == first and labels[len(first)] != IGNORE_INDEX
    second = conv.encode_prompt('How many squares are there?',
                                _conv(answer)[:2])
    assert ids[:len(second)] == second
    assert labels[len(second) - 1] == IGNORE_INDEX != labels[len(second)]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_whole_answer_round_trips(llama_tokenizer_dirs, seed):
    answer, codec, shape = _answer(seed)
    assert '<DET>' in answer and '<SEG>' in answer and '<poly>' in answer
    for name in ('vicuna', 'legacy'):
        tok = _load(llama_tokenizer_dirs[name])
        spacing = resolve_name_spacing(tok, 'auto')
        conv = ConversationTokenizer(
            tok, text_transform=space_after_open if spacing else None)
        ids, labels = conv.encode_train(_conv(answer)[:2])
        target = [t for t in labels if t != IGNORE_INDEX]
        # decoded as the branch decodes a generated answer
        text = tok.decode(target, skip_special_tokens=True).strip()
        if spacing:
            text = unspace_after_open(text)
        if name == 'vicuna':
            assert text == answer
        else:
            # legacy spells a "▁" after every added token and decodes it
            # back as a space; the codec reads past whitespace, so the
            # parse is the same
            assert text.replace(' ', '') == answer.replace(' ', '')
        got, want = codec.decode(text, shape), codec.decode(answer, shape)
        assert got.ok and got.num_failures == 0
        np.testing.assert_allclose(got.bboxes, want.bboxes)
        np.testing.assert_array_equal(got.labels, want.labels)
        np.testing.assert_array_equal(got.render_sem_seg(),
                                      want.render_sem_seg())


@pytest.mark.parametrize('kind', ['vicuna', 'tiny'])
def test_prefetch_tokenizes_a_batch_in_one_call(vicuna, tokenizer, kind):
    """``prefetch`` tokenizes every new piece of a batch of conversations
    in one batched call; ``encode_train`` then calls the tokenizer no more
    and returns what it returns without the prefetch."""
    tok = vicuna if kind == 'vicuna' else tokenizer
    spacing = space_after_open if kind == 'vicuna' else None
    convs = [_conv(_answer(seed)[0]) for seed in range(3)]
    convs.append([{'from': 'human', 'value': 'Is it <image> red?'},
                  {'from': 'gpt', 'value': 'no'}])
    want = [ConversationTokenizer(tok, text_transform=spacing).encode_train(c)
            for c in convs]

    calls = []

    class Counting:
        """The tokenizer, counting its calls."""

        def __len__(self):
            return len(tok)

        def __getattr__(self, name):
            return getattr(tok, name)

        def __call__(self, text, **kwargs):
            calls.append(text)
            return tok(text, **kwargs)

    conv = ConversationTokenizer(Counting(), text_transform=spacing)
    conv.prefetch(convs)
    assert len(calls) == 1 and isinstance(calls[0], list)
    assert len(calls[0]) == len(set(calls[0])) > len(convs)
    assert [conv.encode_train(c) for c in convs] == want
    assert len(calls) == 1
    conv.prefetch(convs)  # nothing new
    assert len(calls) == 1
