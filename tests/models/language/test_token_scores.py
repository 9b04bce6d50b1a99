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


def test_item_scores_read_each_class_names_first_token(tokenizer):
    text = ('Answer: <DET> circle <loc_0><loc_0><loc_499><loc_499>; square '
            '<loc_500><loc_0><loc_999><loc_499></DET>')
    ids = tokenizer(text, add_special_tokens=False).input_ids
    scanner = RegionFeatures(tokenizer, 1000)
    names = [scanner.name_start(ids, end) for end, _, _ in
             scanner.scan(ids)]
    assert [tokenizer.decode([ids[k]]).strip() for k in names] == [
        'circle', 'square']
    probs = [0.5] * len(ids)
    probs[names[0]], probs[names[1]] = 0.9, 0.2
    assert item_scores(scanner, ids, probs) == pytest.approx([0.9, 0.2])
    # an answer cut before its second item: one box, one score
    assert item_scores(scanner, ids[:names[1]], probs) == pytest.approx(
        [0.9])
