import pytest
import torch

from llava_detseg.models.language import (IGNORE_INDEX, IMAGE_PLACEHOLDER,
                                          ConversationTokenizer,
                                          LlavaLanguageBranch)
from llava_detseg.models.language.vision_tokens import pool_token_grid

CONV = [{'from': 'human', 'value': '<image>\nHow many circles are there?'},
        {'from': 'gpt', 'value': '2'}]


# the tiny byte-level BPE, and a SentencePiece LLaMA tokenizer in Vicuna's
# layout (no pad token: the branch pads with unk, as LLaVA does)
@pytest.fixture(scope='module', params=['tiny_ckpt', 'tiny_ckpt_llama'])
def branch(request):
    torch.manual_seed(0)
    return LlavaLanguageBranch(request.getfixturevalue(request.param)['llava'],
                               system_prompt='', max_new_tokens=4)


def test_labels_cover_only_the_answer(branch):
    tok = branch.conv_tokenizer
    ids, labels = tok.encode_train(CONV)
    assert ids.count(IMAGE_PLACEHOLDER) == 1
    target = [t for t in labels if t != IGNORE_INDEX]
    text = branch.tokenizer.decode(target)
    assert text.strip() == '2</s>'
    # the prompt used at inference is the training sequence up to the answer
    prompt = tok.encode_prompt(CONV[0]['value'])
    assert ids[:len(prompt)] == prompt


def test_system_prompt_is_prepended(branch):
    tok = ConversationTokenizer(branch.tokenizer, system_prompt='Be brief.')
    ids, _ = tok.encode_train(CONV)
    assert ids[0] == branch.tokenizer.bos_token_id
    text = branch.tokenizer.decode([i for i in ids if i >= 0],
                                   skip_special_tokens=True)
    assert text.startswith('Be brief. USER:')
    # the LLaMA folder has none: LLaVA's recipe pads with unk
    assert branch.tokenizer.pad_token in ('<pad>', branch.tokenizer.unk_token)


def test_vision_tower_dropped_and_loss_trains(branch):
    assert branch.llava.model.vision_tower is None
    hidden = [torch.randn(2, 17, 128) for _ in range(5)]
    opt = torch.optim.AdamW(branch.parameters(), lr=3e-3)
    convs = [CONV, [CONV[0], {'from': 'gpt', 'value': '3'}]]
    first = None
    for _ in range(30):
        loss = branch.loss(branch.image_tokens(hidden), convs,
                           [0, 1])['loss_lm']
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    branch.eval()
    answers = branch.predict(branch.image_tokens(hidden),
                             [CONV[0]['value']] * 2, [0, 1])
    assert answers == ['2', '3']  # the image decides the answer
    # one batched call gives what separate calls give
    assert branch.predict(branch.image_tokens(hidden), [CONV[0]['value']],
                          [1]) == ['3']


def test_conversation_without_image_is_refused(branch):
    hidden = [torch.randn(1, 17, 128) for _ in range(5)]
    bad = [{'from': 'human', 'value': 'no image here'},
           {'from': 'gpt', 'value': 'x'}]
    with pytest.raises(ValueError, match='exactly one <image>'):
        branch.loss(branch.image_tokens(hidden), [bad], [0])



def test_image_token_pool_averages_the_grid(tiny_ckpt):
    """``image_token_pool=2`` hands the projector the 2 x 2 means of the
    patch grid (CLS dropped), and refuses a grid it cannot divide."""
    pooled = LlavaLanguageBranch(tiny_ckpt['llava'], system_prompt='',
                                 image_token_pool=2)
    feats = torch.randn(2, 1 + 16, 128)  # CLS + a 4 x 4 grid
    grid = feats[:, 1:].reshape(2, 4, 4, 128)
    want = grid.reshape(2, 2, 2, 2, 2, 128).mean(dim=(2, 4)).reshape(2, 4, 128)
    got = pool_token_grid(feats[:, 1:], 2, keep_cls=False)
    assert torch.allclose(got, want, atol=1e-6)
    assert pooled.project(feats).shape == (2, 4, pooled.llava.config
                                           .text_config.hidden_size)
    with pytest.raises(ValueError, match='image_token_pool=2 needs'):
        pooled.project(torch.randn(2, 1 + 9, 128))
    with pytest.raises(ValueError, match='language.image_token_pool'):
        LlavaLanguageBranch(tiny_ckpt['llava'], image_token_pool=0)


def test_vision_feature_layers_concatenate(tiny_ckpt):
    """A list of ``vision_feature_layer`` concatenates those hidden states
    along the channels into a projector of that width; the checkpoint's
    one-layer projector, or a pretrained one, is refused naming the keys."""
    branch = LlavaLanguageBranch(
        tiny_ckpt['llava'], system_prompt='', vision_feature_layer=[1, -2],
        projector=dict(type='mlp2x_gelu', load_pretrained=False))
    assert branch.vision_feature_layer == (1, -2)
    assert branch.projector.linear_1.in_features == 2 * 128
    hidden = [torch.randn(2, 1 + 4, 128) for _ in range(5)]
    want = branch.projector(torch.cat([hidden[1], hidden[-2]], -1)[:, 1:])
    assert torch.allclose(branch.image_tokens(hidden), want)
    # one layer in a list is that layer
    one = LlavaLanguageBranch(tiny_ckpt['llava'], vision_feature_layer=[-2])
    assert one.vision_feature_layer == -2
    with pytest.raises(ValueError, match=r'vision_feature_layer=\[1, -2\].*'
                       'language.projector'):
        LlavaLanguageBranch(tiny_ckpt['llava'], vision_feature_layer=[1, -2])
    with pytest.raises(ValueError, match='load_pretrained=False'):
        LlavaLanguageBranch(tiny_ckpt['llava'], vision_feature_layer=[1, -2],
                            projector=dict(type='mlp2x_gelu'))
    with pytest.raises(ValueError, match='non-empty list of ints'):
        LlavaLanguageBranch(tiny_ckpt['llava'], vision_feature_layer=[])
