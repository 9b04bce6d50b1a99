"""The full config at its real widths on a CPU: CLIP ViT-L/14-336 and the
Vicuna-7B width (2 decoder layers), random weights written in the published
layouts and loaded back through ``from_pretrained``; one training step each
on an ADE20K and a LLaVA-Instruct batch of two images (gradient
checkpointing, bf16 autocast) and predictions of boxes and masks on an
ADE20K image and answers on a LLaVA image. COCO's 800 x 1000 images (~3.5k
ViT tokens each) are left to ``tools/analysis_tools/benchmark.py``: their
training step takes minutes here."""
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from conftest import ROOT
from sample_datasets import twin_config

pytestmark = pytest.mark.slow

WIDE = osp.join(
    ROOT, 'configs',
    'llava-detseg_clip-l14-336_vicuna-7b-2layer_2xb2-2e_coco-ade-llava-tiny.py')


@pytest.fixture(scope='module')
def wide(tmp_path_factory):
    from llava_detseg.models.language import write_full_width_checkpoints
    from llava_detseg.registry import MODELS
    tmp = tmp_path_factory.mktemp('wide')
    ckpt = write_full_width_checkpoints(str(tmp / 'ckpt'))
    cfg = twin_config(WIDE, ckpt, str(tmp / 'tiny'))
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def _one_batch_per_source(loader):
    found = {}
    for batch in loader:
        found.setdefault(batch['data_samples'][0].metainfo['tasks'][0], batch)
    return found


def test_real_widths(wide):
    _, model = wide
    vit = model.backbone.vit.config
    assert (vit.hidden_size, vit.num_hidden_layers, vit.patch_size,
            vit.image_size) == (1024, 24, 14, 336)
    llm = model.language.llava.config.text_config
    assert (llm.hidden_size, llm.num_attention_heads,
            llm.intermediate_size) == (4096, 32, 11008)
    assert model.language.llava.get_input_embeddings().num_embeddings >= 32064
    # a SentencePiece tokenizer: Vicuna's ``▁`` word pieces
    from transformers import LlamaTokenizer
    tok = model.language.tokenizer
    assert isinstance(tok, LlamaTokenizer), type(tok)
    ids = tok('How many circles', add_special_tokens=False).input_ids
    assert tok.convert_ids_to_tokens(ids)[0].startswith('\u2581')
    assert model.det_head.num_classes == 80
    assert model.seg_head.num_classes == 150


def test_trains_one_step_per_source_at_real_widths(wide):
    cfg, model = wide
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batches = _one_batch_per_source(loader)
    assert {'seg', 'vqa'} <= set(batches)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'AutocastOptimWrapper'
    trained = {n: p.detach().clone() for n, p in model.named_parameters()
               if p.requires_grad}
    model.train()
    # 576 image tokens: the backbone resizes the 384-px padded input by
    # 14/16 to CLIP's 336 px, 24 x 24 patches
    vqa = batches['vqa']
    assert tuple(vqa['inputs'][0].shape[-2:]) == (384, 384)
    for task, key in (('vqa', 'vqa.loss_lm'), ('seg', 'seg.loss_ce')):
        log = model.train_step(batches[task], wrapper)
        assert torch.isfinite(log['loss']), (task, log)
        assert 0 < float(log[key]) < 20, (task, log)
    changed = {n.split('.')[0] for n, p in model.named_parameters()
               if n in trained and not torch.equal(p, trained[n])}
    # the LoRA adapters (CLIP, LLM, projector), the neck and the seg head
    assert {'backbone', 'language', 'neck', 'seg_head'} <= changed, changed
    assert all(p.dtype == torch.float32 or not p.requires_grad
               for p in model.parameters())


def test_predicts_boxes_masks_and_answers_at_real_widths(wide):
    cfg, model = wide
    cfg.val_dataloader.batch_size = 1
    loader = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    batches = _one_batch_per_source(loader)
    model.eval()
    # boxes and masks of the ADE20K image in one shared pass (the COCO
    # image's 800 x 1000 prediction is benchmark.py's: half a minute more)
    batch = batches['seg']
    batch['data_samples'][0].set_metainfo(dict(tasks=['det', 'seg']))
    seg = det = model.val_step(batch)[0]
    h, w = det.ori_shape
    boxes = det.pred_instances.bboxes
    assert boxes.shape[1] == 4 and len(boxes) <= 100
    if len(boxes):
        assert int(det.pred_instances.labels.max()) < 80
        assert float(boxes[:, 2].max()) <= w + 1e-3
    assert tuple(seg.pred_sem_seg.data.shape[-2:]) == tuple(seg.ori_shape)
    assert int(seg.pred_sem_seg.data.max()) < 150
    vqa = model.val_step(batches['vqa'])[0]
    answers = [r.text for r in vqa.responses]
    assert answers and all(isinstance(a, str) for a in answers)
