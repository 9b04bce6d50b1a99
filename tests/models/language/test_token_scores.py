"""The model's own confidence in each box it writes (``token_scores``)."""
import pytest
import torch

from llava_detseg.models.language.region_features import RegionFeatures
from llava_detseg.models.language.token_scores import (ChosenTokenProbs,
                                                       item_scores)


def test_chosen_token_probs_follow_each_choice():
    rec = ChosenTokenProbs()
    logits = [torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]]),
              torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])]
    chosen = torch.tensor([[0, 1], [2, 0]])  # step 0 then step 1, per row
    ids = torch.zeros(2, 4, dtype=torch.long)  # the prompt
    for t, scores in enumerate(logits):
        out = rec(ids, scores.clone())
        assert torch.equal(out, scores)  # nothing changed
        ids = torch.cat([ids, chosen[:, t:t + 1]], 1)
    probs = rec.finish(chosen)
    expect = torch.stack([logits[t].softmax(-1).gather(
        1, chosen[:, t:t + 1]).squeeze(1) for t in range(2)], 1)
    torch.testing.assert_close(probs, expect)
    assert probs.shape == (2, 2)


def test_item_scores_multiply_each_items_tokens(tokenizer):
    """A box's score is the probability of its tokens, its class name's
    first to its last <loc>; the separators and tags do not count."""
    text = ('Answer: <DET> circle <loc_0><loc_0><loc_499><loc_499>; square '
            '<loc_500><loc_0><loc_999><loc_499></DET>')
    ids = tokenizer(text, add_special_tokens=False).input_ids
    scanner = RegionFeatures(tokenizer, 1000)
    spans = [(scanner.name_start(ids, end), stop)
             for end, _, stop in scanner.scan(ids)]
    assert [tokenizer.decode([ids[k]]).strip() for k, _ in spans] == [
        'circle', 'square']
    assert all(tokenizer.decode([ids[stop - 1]]) == '<loc_499>'
               for _, stop in spans)
    probs = [0.1] * len(ids)  # separators, tags: not part of any item
    for start, stop in spans:
        probs[start:stop] = [1.0] * (stop - start)
    probs[spans[0][0]] = 0.9  # the first box's class name
    probs[spans[1][1] - 1] = 0.2  # the second box's last <loc>
    assert item_scores(scanner, ids, probs) == pytest.approx([0.9, 0.2])
    # an answer cut inside its second item: one box, one score
    assert item_scores(scanner, ids[:spans[1][0] + 2], probs) == \
        pytest.approx([0.9])


def test_predict_scores_boxes_in_the_models_own_distribution(tiny_ckpt):
    """A processor that forces a whole ``<DET>`` answer leaves each chosen
    token probability 1 in what it returns; the box scores come from the
    model's distribution before it: the same as teacher-forcing the
    answer through the model."""
    from transformers import LogitsProcessor

    from llava_detseg.models.language import LlavaLanguageBranch
    torch.manual_seed(0)
    branch = LlavaLanguageBranch(tiny_ckpt['llava'], system_prompt='',
                                 max_new_tokens=24, special_tokens=dict())
    branch.eval()
    conv = [{'from': 'human', 'value': '<image>\nDetect all.'},
            {'from': 'gpt', 'value': '<DET>circle <loc_1><loc_2><loc_3>'
             '<loc_4>; square <loc_5><loc_6><loc_7><loc_8></DET>'}]
    # the answer's tokens (and </s>) as training spells them
    answer = [t for t in branch.conv_tokenizer.encode_train(conv)[1]
              if t != -100]

    class Force(LogitsProcessor):
        def __init__(self):
            self.step = 0

        def __call__(self, input_ids, scores):
            out = torch.full_like(scores, float('-inf'))
            out[:, answer[self.step]] = 0
            self.step += 1
            return out

    image = torch.randn(1, 4, branch.llava.config.text_config.hidden_size)
    out = branch.predict(image, ['<image>\nDetect all.'], [0],
                         logits_processor=[Force()], return_details=True)[0]
    assert len(out.box_scores) == 2
    assert all(0 < s < 1 for s in out.box_scores)
    # teacher forcing: the probability of each item's tokens
    with torch.no_grad():
        logits, target = branch.answer_logits(image, [conv], [0])
    probs = logits.float().softmax(-1).gather(1, target[:, None])[:, 0]
    assert target.tolist() == answer
    want = item_scores(branch.items, answer, probs.tolist())
    assert out.box_scores == pytest.approx(want, rel=1e-4)
