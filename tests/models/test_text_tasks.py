"""The text path of LlavaDetSeg: text_cfg, grounded and generative modes."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.models.language.text_tasks import TextTaskIO
from llava_detseg.registry import DATASETS, MODELS

CLASSES = ('circle', 'square', 'triangle')


def _batch(cfg, split, coords, num, **kwargs):
    loader = cfg[f'{split}_dataloader']
    pipeline = copy.deepcopy(loader.dataset.pipeline)
    pipeline.insert(-1, dict(type='GenerateTextInstructions', classes=CLASSES,
                             num_per_image=num, coords=coords, **kwargs))
    ds_cfg = copy.deepcopy(loader.dataset)
    ds_cfg.pipeline = pipeline
    dataset = DATASETS.build(ds_cfg)
    items = [dataset[i] for i in range(2)]
    return dict(inputs=[i['inputs'] for i in items],
                data_samples=[i['data_samples'] for i in items])


@pytest.mark.parametrize('mode,loc_weight', [('grounded', 0.1),
                                             ('generative', 1.0)])
def test_text_loss_and_predict(cfg, mode, loc_weight):
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    cfg.model.language.special_tokens = dict()
    cfg.model.text_cfg = dict(classes=CLASSES, mode=mode, max_new_tokens=5,
                              context_score_thr=0.0, context_max_boxes=3,
                              loc_loss_weight=loc_weight,
                              terminate_items=mode == 'grounded')
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = _batch(cfg, 'train', 'img_shape', 2)
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['text.loss_lm'])
    losses['text.loss_lm'].backward()
    delta = model.language.llava.lm_head.special_delta
    assert delta.grad is not None and delta.grad.abs().sum() > 0
    model.eval()
    batch = _batch(cfg, 'val', 'ori_shape', None)
    data = model.data_preprocessor(batch, training=False)
    out = model(**data, mode='predict')
    for sample in out:
        n = len(sample.text_conversations)
        assert len(sample.pred_texts) == len(sample.text_prompts) == n
        det_prompt = sample.text_prompts[0]  # det_all
        assert det_prompt.startswith('<image>\n')
        assert ('<DET>' in det_prompt) == (mode == 'grounded')
        if mode == 'grounded':  # the heads' top boxes are the context
            head = sample.pred_instances
            n_ctx = det_prompt.count('<loc_') // 4
            assert n_ctx == min(3, len(head))


def test_loc_loss_weight_weights_the_loc_tokens(cfg):
    """Weight 1 equals the plain LM loss; another weight changes it by
    exactly the weighted mean over loc / other answer tokens."""
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    cfg.model.language.special_tokens = dict()
    cfg.model.text_cfg = dict(classes=CLASSES, context_score_thr=0.0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # class order: answers hold class runs (run_loss_weight below)
    np.random.seed(0)
    batch = _batch(cfg, 'train', 'img_shape', 2, answer_order='class')
    data = model.data_preprocessor(batch, training=True)
    torch.manual_seed(1)
    plain = model(**data, mode='loss')['text.loss_lm']
    text = model.text
    text.loc_loss_weight = 0.25
    torch.manual_seed(1)
    weighted = model(**data, mode='loss')['text.loss_lm']
    assert not torch.isclose(plain, weighted)
    text.loc_loss_weight = 1.0 - 1e-9  # the weighted path at weight ~1
    torch.manual_seed(1)
    same = model(**data, mode='loss')['text.loss_lm']
    assert torch.isclose(plain, same, rtol=1e-5)
    # items ended with the separator: other targets, another loss
    text.loc_loss_weight = 1.0
    text.terminate_items = True
    torch.manual_seed(1)
    ended = model(**data, mode='loss')['text.loss_lm']
    assert torch.isfinite(ended) and not torch.isclose(plain, ended)
    # the class choices weighted up: the weighted path, another loss
    text.decision_loss_weight = 5.0
    torch.manual_seed(1)
    decided = model(**data, mode='loss')['text.loss_lm']
    assert torch.isfinite(decided) and not torch.isclose(ended, decided)
    # the run continuations left out: the weighted path, another loss
    text.decision_loss_weight, text.run_loss_weight = 5.0, 0.0
    torch.manual_seed(1)
    runs_out = model(**data, mode='loss')['text.loss_lm']
    assert torch.isfinite(runs_out) and not torch.isclose(decided, runs_out)
    text.decision_loss_weight, text.run_loss_weight = 1.0, 1.0
    with pytest.raises(ValueError, match='loc_loss_weight'):
        TextTaskIO(CLASSES, loc_loss_weight=-1)


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match='text_cfg.mode'):
        TextTaskIO(CLASSES, mode='telepathic')


def test_text_cfg_needs_a_language_branch(cfg):
    init_default_scope('llava_detseg')
    cfg.model.language = None
    cfg.model.text_cfg = dict(classes=CLASSES)
    with pytest.raises(ValueError, match='needs a language branch'):
        MODELS.build(cfg.model)


def test_decision_tokens_are_the_class_choices(tiny_ckpt):
    """decision_loss_weight picks the token after each open tag and item
    separator (class names, the closing tag), row by row."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from llava_detseg.models.language.special_tokens import add_detseg_tokens
    tok = AutoTokenizer.from_pretrained(tiny_ckpt['llava'])
    add_detseg_tokens(tok)
    text = TextTaskIO(CLASSES, decision_loss_weight=5.0)
    answer = ('Answer: 2 <DET>circle <loc_1><loc_2><loc_3><loc_4>; square '
              '<loc_5><loc_6><loc_7><loc_8>;</DET>')
    ids = tok(' ' + answer, add_special_tokens=False).input_ids
    # two answers in two rows: the first token of the second row follows
    # the last of the first only in the flat target, not in its answer
    target = torch.tensor(ids + ids)
    seq = torch.tensor([0] * len(ids) + [1] * len(ids))
    lang = SimpleNamespace(tokenizer=tok)
    picked = target[text._is_decision(lang, target, seq)].tolist()
    words = [tok.decode([i]).strip() for i in picked]
    assert words == ['circle', 'square', '</DET>'] * 2
    with pytest.raises(ValueError, match='decision_loss_weight'):
        TextTaskIO(CLASSES, decision_loss_weight=-1)


def test_run_continuations_are_told_from_the_decoder_decisions(tiny_ckpt):
    """run_loss_weight picks the decisions that repeat the previous item's
    class within one block of one answer: not the first class of a block,
    not a switch, not the closing tag, not across blocks or rows."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from llava_detseg.models.language.special_tokens import add_detseg_tokens
    tok = AutoTokenizer.from_pretrained(tiny_ckpt['llava'])
    add_detseg_tokens(tok)
    text = TextTaskIO(CLASSES, seg_classes=('background', ) + CLASSES,
                      run_loss_weight=0.0)
    box = '<loc_1><loc_2><loc_3><loc_4>'
    poly = '<poly><loc_1><loc_2><loc_3><loc_4><loc_5><loc_6></poly>'
    answer = (f'Answer: <DET>circle {box}; circle {box}; square {box}; '
              f'square {box};</DET> <SEG>square {poly}; square {poly}; '
              f'circle {poly};</SEG>')
    ids = tok(' ' + answer, add_special_tokens=False).input_ids
    target = torch.tensor(ids + ids)
    seq = torch.tensor([0] * len(ids) + [1] * len(ids))
    lang = SimpleNamespace(tokenizer=tok)
    decision = text._is_decision(lang, target, seq)
    runs = text._continues_run(lang, target, seq, decision)
    assert bool((runs & ~decision).any()) is False
    # per row: circle, [circle], square, [square], </DET>, square (a new
    # block: not a run of the det block's square), [square], circle, </SEG>
    flags = runs[decision].tolist()
    assert flags == [False, True, False, True, False,
                     False, True, False, False] * 2
    with pytest.raises(ValueError, match='run_loss_weight'):
        TextTaskIO(CLASSES, run_loss_weight=-0.5)
