"""``language.share_prefix``: an image's conversations read their shared rows
once, and every answer token gets the logits and gradients it gets in a
sequence of its own."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from llava_detseg.models.language import LlavaLanguageBranch
from llava_detseg.models.language.conversation import with_context
from llava_detseg.models.language.shared_prefix import (check_share_prefix,
                                                        group_by_image, pack,
                                                        segment_mask,
                                                        shared_rows)

BLOCK = '<DET>circle<loc_10><loc_20><loc_300><loc_400></DET>'
QA = [('How many circles are there?', '1'), ('Is there a square?', 'no'),
      ('What colour is the circle?', 'red'), ('How many squares are there?',
                                              '0')]


def conv(question: str, answer: str) -> list:
    return [{'from': 'human', 'value': f'<image>\n{question}'},
            {'from': 'gpt', 'value': answer}]


@pytest.fixture(scope='module', params=[False, True, 'token', 'mention'])
def branch(request, tiny_ckpt):
    torch.manual_seed(0)
    # 'mention': normed regions on the names and the question's mentions
    mention = request.param == 'mention'
    model = LlavaLanguageBranch(tiny_ckpt['llava'],
                                special_tokens=dict(num_bins=1000),
                                region_features='norm' if mention else
                                request.param,
                                region_span='mention' if mention else 'name',
                                context_segment=bool(request.param))
    if request.param is True:
        model.region_gate.data.fill_(0.7)  # a gate that lets regions in
    return model


def test_segment_mask_keeps_segments_apart():
    # prefix of 2, a segment of 2, a segment of 1, one padding row
    mask = segment_mask(torch.tensor([[0, 0, 1, 1, 2, -1]]))[0]
    assert mask[1].tolist() == [True, True, False, False, False, False]
    assert mask[3].tolist() == [True, True, True, True, False, False]
    assert mask[4].tolist() == [True, True, False, False, True, False]
    assert mask[5].tolist() == [False] * 5 + [True]


def test_segment_mask_keeps_units_of_a_row_apart():
    # unit 0: prefix of 2 and a segment; unit 1: a prefix of 2; padding
    seg = torch.tensor([[0, 0, 1, 0, 0, -1]])
    unit = torch.tensor([[0, 0, 0, 1, 1, -1]])
    mask = segment_mask(seg, unit)[0]
    assert mask[2].tolist() == [True, True, True, False, False, False]
    assert mask[4].tolist() == [False, False, False, True, True, False]
    assert mask[5].tolist() == [False] * 5 + [True]


def test_shared_rows_and_groups():
    a = torch.arange(12.).view(6, 2)
    b = a.clone()
    b[4] += 1
    assert shared_rows([a, b]) == 4
    assert shared_rows([a, b[:3]]) == 3
    assert shared_rows([a]) == 6
    assert group_by_image([0, 1, 0, 1, 0], [False, False, False, True,
                                            False]) == [[0, 2, 4], [1], [3]]


def grads(branch, tokens, convs, owner):
    branch.zero_grad()
    tokens = tokens.detach().requires_grad_(True)
    logits, target, seq = branch.answer_logits(tokens, convs, owner,
                                               return_rows=True)
    F.cross_entropy(logits, target).backward()
    named = {n: p.grad.clone() for n, p in branch.named_parameters()
             if p.grad is not None}
    return logits.detach(), target, seq, tokens.grad.clone(), named


def test_packed_logits_and_gradients_equal_separate_sequences(branch):
    torch.manual_seed(1)
    tokens = branch.image_tokens([torch.randn(3, 17, 128)
                                  for _ in range(5)]).detach()
    convs, owner = [], []
    for image in range(3):
        # images 0 and 2 get a block, image 1 none; image 2 one question
        block = '' if image == 1 else BLOCK
        for q, a in QA[:1 if image == 2 else 4]:
            convs.append(with_context(conv(q, a), block))
            owner.append(image)
    # a conversation read detached may not share the others' rows
    convs.append([dict(convs[0][0], detach_image=True), convs[0][1]])
    owner.append(0)
    branch.share_prefix = True
    packed = grads(branch, tokens, convs, owner)
    branch.share_prefix = False
    single = grads(branch, tokens, convs, owner)
    assert torch.equal(packed[1], single[1])  # targets, in the same order
    assert torch.equal(packed[2], single[2])
    torch.testing.assert_close(packed[0], single[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[3], single[3], atol=1e-6, rtol=1e-4)
    assert packed[4].keys() == single[4].keys()
    for name, g in single[4].items():
        torch.testing.assert_close(packed[4][name], g, atol=1e-6, rtol=1e-4,
                                   msg=name)


def test_packing_reads_fewer_rows(branch):
    tokens = branch.image_tokens([torch.randn(1, 17, 128)
                                  for _ in range(5)]).detach()
    convs = [with_context(conv(q, a), BLOCK) for q, a in QA]
    embeds, labels = [], []
    for c in convs:
        ids, lab = branch.conv_tokenizer.encode_train(c)
        emb, lab = branch._embed(ids, tokens[0], None, lab)
        embeds.append(emb)
        labels.append(lab)
    packed = pack(embeds, labels, group_by_image([0] * 4, [False] * 4))
    prefix = shared_rows(embeds)
    # the image's 16 tokens and the block are in the prefix, read once
    assert prefix > 16 + 6
    assert packed.inputs.shape[:2] == (1, sum(len(e) for e in embeds) -
                                       3 * prefix)
    # each segment's positions continue from the prefix
    assert packed.position_ids[0, prefix].item() == prefix
    second = prefix + len(embeds[0]) - prefix
    assert packed.position_ids[0, second].item() == prefix


def test_units_of_several_images_share_rows(branch):
    # one conversation per image, of mixed lengths (as the text
    # instructions): packed into fewer rows than images, same logits and
    # gradients as one padded row each
    torch.manual_seed(2)
    tokens = branch.image_tokens([torch.randn(4, 17, 128)
                                  for _ in range(5)]).detach()
    blocks = [BLOCK * n for n in (40, 1, 2, 1)]
    convs = [with_context(conv(q, a), b) for (q, a), b in zip(QA, blocks)]
    owner = [0, 1, 2, 3]
    embeds, labels = [], []
    for c, i in zip(convs, owner):
        ids, lab = branch.conv_tokenizer.encode_train(c)
        emb, lab = branch._embed(ids, tokens[i], None, lab)
        embeds.append(emb)
        labels.append(lab)
    packed = pack(embeds, labels, group_by_image(owner, [False] * 4))
    longest = max(len(e) for e in embeds)
    assert packed.inputs.shape[:2] == (2, longest)
    # the first row holds the longest conversation alone, from position 0
    assert packed.position_ids[0, :longest].tolist() == list(range(longest))
    branch.share_prefix = True
    rows = grads(branch, tokens, convs, owner)
    branch.share_prefix = False
    single = grads(branch, tokens, convs, owner)
    assert torch.equal(rows[1], single[1]) and torch.equal(rows[2], single[2])
    torch.testing.assert_close(rows[0], single[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(rows[3], single[3], atol=1e-6, rtol=1e-4)
    for name, g in single[4].items():
        torch.testing.assert_close(rows[4][name], g, atol=1e-6, rtol=1e-4,
                                   msg=name)


def test_flash_attention_is_refused(branch):
    config = branch.llava.config
    assert check_share_prefix(True, config) is True
    assert check_share_prefix(False, config) is False
    flash = SimpleNamespace(_attn_implementation='flash_attention_2')
    assert check_share_prefix(False, flash) is False
    with pytest.raises(ValueError, match='language.share_prefix=True'):
        check_share_prefix(True, flash)
