"""Region features (language.region_features, language.region_span): each
prompt box's pooled image tokens on its name, its box or the question's
mention of it, or as a token of its own; the config checks."""
import pytest
import torch

from llava_detseg.models.language.region_features import RegionFeatures


def test_region_items_are_the_prompt_boxes(tokenizer):
    regions = RegionFeatures(tokenizer, 1000)
    text = ('<DET>circle <loc_0><loc_0><loc_499><loc_499>; square '
            '<loc_500><loc_500><loc_999><loc_999></DET> <SEG>circle <poly>'
            '<loc_1><loc_2><loc_3><loc_4></poly></SEG> Q <DET>triangle '
            '<loc_9><loc_9><loc_20><loc_20></DET>')
    ids = tokenizer(text, add_special_tokens=False).input_ids
    found = regions.items(ids)
    # the <SEG> polygon's four locs are no box
    assert [box for _, box in found] == [[0, 0, 499, 499],
                                         [500, 500, 999, 999], [9, 9, 20, 20]]
    for (pos, _), name in zip(found, ('circle', 'square', 'triangle')):
        # the last piece of the class name, not the space before the locs
        piece = tokenizer.decode(ids[pos]).strip()
        assert piece and name.endswith(piece)
    last_open = len(ids) - ids[::-1].index(regions.det_open) - 1
    assert len(regions.items(ids, limit=last_open)) == 2
    # area weights: the top-left quarter of a 2 x 2 grid is token 0
    w = regions.weights([[0, 0, 499, 499], [250, 0, 749, 499]], side=2)
    assert torch.allclose(w, torch.tensor([[1., 0, 0, 0], [.5, .5, 0, 0]]))
    assert torch.allclose(regions.weights([[3, 3, 3, 3]], side=4),
                          torch.tensor([[1.] + [0.] * 15]))


def test_region_features_add_at_the_name_tokens(tokenizer):
    regions = RegionFeatures(tokenizer, 1000)
    ids = tokenizer('<DET>circle <loc_0><loc_0><loc_499><loc_499></DET>',
                    add_special_tokens=False).input_ids
    (pos, _), = regions.items(ids)
    emb = torch.zeros(len(ids), 3)
    image = torch.arange(12.).reshape(4, 3).requires_grad_()
    out = regions.add(emb, ids, image)
    assert torch.equal(out[pos], image[0].detach())
    assert out.sum() == image[0].sum()  # nowhere else
    out.sum().backward()  # the feature trains what made the tokens
    assert torch.equal(image.grad[:, 0], torch.tensor([1., 0, 0, 0]))
    assert torch.equal(regions.add(emb, ids, image, limit=pos), emb)
    half = regions.add(emb, ids, image.detach(), transform=lambda f: f * .5)
    assert torch.equal(half[pos], image[0].detach() / 2)
    with pytest.raises(ValueError, match='square grid'):
        regions.add(emb, ids, torch.zeros(5, 3))


def test_region_span_item_adds_at_the_name_and_its_locs(tokenizer):
    """``region_span='item'``: the region at the name and at its four
    ``<loc_i>`` tokens, nowhere else."""
    regions = RegionFeatures(tokenizer, 1000)
    ids = tokenizer('<DET>circle <loc_0><loc_0><loc_499><loc_499>; square '
                    '<loc_500><loc_0><loc_999><loc_499></DET>',
                    add_special_tokens=False).input_ids
    emb = torch.zeros(len(ids), 3)
    image = torch.arange(1., 13.).reshape(4, 3)
    out = regions.add(emb, ids, image, span='item')
    for (name, _, end), token in zip(regions.scan(ids), (0, 1)):
        for p in [name, *range(end - 4, end)]:
            assert torch.equal(out[p], image[token])
    assert int((out.abs().sum(1) > 0).sum()) == 10
    # the name-only default: two rows
    assert int((regions.add(emb, ids, image).abs().sum(1) > 0).sum()) == 2


def test_region_span_mention_adds_at_the_question_words(tokenizer):
    """``region_span='mention'``: the region at the block's name and at the
    same name later in the prompt (the mean of the items of that name),
    not past ``limit`` and not at other words."""
    regions = RegionFeatures(tokenizer, 1000)
    block = ('<DET> circle <loc_0><loc_0><loc_499><loc_499>; square '
             '<loc_500><loc_0><loc_999><loc_499>; circle '
             '<loc_0><loc_500><loc_499><loc_999></DET>')
    ids = tokenizer(block + '\nWhat color is the square? Is there a '
                    'circle? triangle', add_special_tokens=False).input_ids
    square = tokenizer(' square', add_special_tokens=False).input_ids
    circle = tokenizer(' circle', add_special_tokens=False).input_ids
    assert len(square) == len(circle) == 1
    close = ids.index(regions.det_close)
    at_square = ids.index(square[0], close)
    at_circle = ids.index(circle[0], close)
    emb = torch.zeros(len(ids), 3)
    image = torch.arange(1., 13.).reshape(4, 3)
    out = regions.add(emb, ids, image, span='mention')
    assert torch.equal(out[at_square], image[1])
    assert torch.equal(out[at_circle], (image[0] + image[2]) / 2)
    # the block's three names and the two mentions: nothing else
    assert int((out.abs().sum(1) > 0).sum()) == 5
    limited = regions.add(emb, ids, image, span='mention',
                          limit=at_circle)
    assert limited[at_circle].abs().sum() == 0
    assert torch.equal(limited[at_square], image[1])


def test_pooled_regions_are_reused_within_a_call(tokenizer):
    regions = RegionFeatures(tokenizer, 1000)
    image = torch.arange(1., 13.).reshape(4, 3).requires_grad_()
    boxes = [[0, 0, 499, 499], [500, 0, 999, 499]]
    assert regions.pool(boxes, image) is not regions.pool(boxes, image)
    with regions.reuse_pooled():
        a = regions.pool(boxes, image)
        assert regions.pool(boxes, image) is a
        assert regions.pool(boxes[:1], image) is not a
        # the same rows read detached are another feature (no gradient)
        assert not regions.pool(boxes, image.detach()).requires_grad
        assert regions.pool(boxes, image * 1) is not a  # other rows
    assert regions.pool(boxes, image) is not a
    torch.testing.assert_close(a, regions.pool(boxes, image))


def test_region_span_is_checked(tiny_ckpt):
    from llava_detseg.models.language import LlavaLanguageBranch
    for features, span in ((False, 'item'), ('token', 'item'),
                           ('norm', 'box'), ('token', 'mention')):
        with pytest.raises(ValueError, match='language.region_span'):
            LlavaLanguageBranch(tiny_ckpt['llava'],
                                special_tokens=dict(num_bins=1000),
                                region_features=features, region_span=span)


def test_region_tokens_are_inserted_after_the_boxes(tokenizer):
    """``'token'`` mode: a row after each prompt box, names and locs kept,
    labels ignored there."""
    from llava_detseg.models.language.region_features import \
        REGION_PLACEHOLDER
    regions = RegionFeatures(tokenizer, 1000)
    ids = tokenizer('<DET>circle <loc_0><loc_0><loc_499><loc_499>; square '
                    '<loc_500><loc_0><loc_999><loc_499></DET> Q <DET>triangle '
                    '<loc_9><loc_9><loc_20><loc_20></DET>',
                    add_special_tokens=False).input_ids
    emb = torch.randn(len(ids), 3)
    image = torch.arange(12.).reshape(4, 3).requires_grad_()
    labels = list(range(len(ids)))
    limit = len(ids) - ids[::-1].index(regions.det_open) - 1
    out, new_ids, new_labels = regions.insert(emb, ids, labels, image, limit)
    ends = [end for _, _, end in regions.scan(ids, limit)]
    assert len(ends) == 2 and out.shape == (len(ids) + 2, 3)
    assert [i for i, t in enumerate(new_ids) if t == REGION_PLACEHOLDER] == \
        [ends[0], ends[1] + 1]
    # every other row is the token's own embedding, in order
    keep = [i for i, t in enumerate(new_ids) if t != REGION_PLACEHOLDER]
    assert torch.equal(out[keep], emb)
    assert [new_ids[i] for i in keep] == ids
    assert [new_labels[i] for i in keep] == labels
    assert new_labels[ends[0]] == new_labels[ends[1] + 1] == -100
    # the boxes' regions: token 0 (top left), token 1 (top right)
    assert torch.equal(out[ends[0]], image[0].detach())
    assert torch.equal(out[ends[1] + 1], image[1].detach())
    out.sum().backward()
    assert torch.equal(image.grad[:, 0], torch.tensor([1., 1, 0, 0]))
    # no box before the limit: unchanged
    out, same, none = regions.insert(emb, ids, None, image, limit=2)
    assert torch.equal(out, emb) and same == ids and none is None
