import pytest
import torch

from llava_detseg.models.language import (LlavaLanguageBranch,
                                          build_tiny_tokenizer)
from llava_detseg.models.language.special_tokens import (DeltaEmbedding,
                                                         DeltaLinear,
                                                         add_detseg_tokens)
from llava_detseg.structures import special_tokens

ANSWER = 'Answer: 1 <DET>circle <loc_12><loc_345><loc_678><loc_999></DET>'
CONV = [{'from': 'human', 'value': '<image>\nDetect all objects.'},
        {'from': 'gpt', 'value': ANSWER}]


def _llama_tokenizer(folder: str):
    from transformers import LlamaTokenizer
    tok = LlamaTokenizer.from_pretrained(folder)
    add_detseg_tokens(tok)
    return tok


@pytest.mark.parametrize('kind', ['bpe', 'llama'])
def test_tiny_tokenizer_holds_the_tokens_as_single_ids(request, kind):
    tok = build_tiny_tokenizer(detseg_tokens=True) if kind == 'bpe' else \
        _llama_tokenizer(request.getfixturevalue(
            'llama_tokenizer_dirs')['vicuna'])
    names = special_tokens()
    ids = tok.convert_tokens_to_ids(names)
    assert len(set(ids)) == len(names) == 1006
    assert tok.unk_token_id not in ids
    enc = tok(ANSWER, add_special_tokens=False).input_ids
    for name in ('<DET>', '<loc_12>', '<loc_999>', '</DET>'):
        assert tok.convert_tokens_to_ids(name) in enc
    # not "special": skip_special_tokens keeps them, the text is exact
    assert tok.decode(enc, skip_special_tokens=True) == ANSWER
    # adding twice changes nothing
    assert add_detseg_tokens(tok) == ids and len(tok) == max(ids) + 1


@pytest.fixture(scope='module')
def frozen(tiny_ckpt):
    torch.manual_seed(0)
    return LlavaLanguageBranch(
        tiny_ckpt['llava'], system_prompt='', max_new_tokens=12,
        freeze_llm=True, freeze_projector=True, special_tokens=dict())


def test_default_branch_adds_nothing(tiny_ckpt):
    branch = LlavaLanguageBranch(tiny_ckpt['llava'], system_prompt='')
    assert branch.detseg_token_ids == []
    assert '<DET>' not in branch.tokenizer.get_vocab()
    assert not isinstance(branch.llava.get_input_embeddings(),
                          DeltaEmbedding)


def test_new_rows_train_while_the_llm_is_frozen(frozen):
    emb = frozen.llava.get_input_embeddings()
    head = frozen.llava.lm_head
    assert isinstance(emb, DeltaEmbedding) and isinstance(head, DeltaLinear)
    assert emb.num_embeddings == len(frozen.tokenizer) == head.out_features
    trainable = {n for n, p in frozen.named_parameters() if p.requires_grad}
    assert trainable == {
        'llava.model.language_model.embed_tokens.special_delta',
        'llava.lm_head.special_delta'
    }
    keys = frozen.state_dict().keys()
    assert 'llava.lm_head.special_delta' in keys
    assert 'llava.lm_head.weight' in keys  # base key names unchanged
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    params = [p for p in frozen.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)
    hidden = [torch.randn(1, 17, 128) for _ in range(5)]
    first = None
    for _ in range(40):
        loss = frozen.loss(frozen.image_tokens(hidden), [CONV], [0])['loss_lm']
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    after = frozen.state_dict()
    for k, v in before.items():
        same = torch.equal(v, after[k])
        assert same != k.endswith('special_delta'), k
    frozen.eval()
    out = frozen.predict(frozen.image_tokens(hidden),
                         [CONV[0]['value']], [0])[0]
    # the new tokens, now likelier than before, survive decoding (they are
    # not "special"); the frozen base rows cannot learn "Answer: 1"
    assert '<DET>' in out or '<loc_' in out
