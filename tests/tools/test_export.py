"""The Hugging Face export (merge_lora.py, ``models/utils/export.py``)."""
import copy
import importlib.util
import os.path as osp
import shutil
import sys

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from conftest import ROOT, tiny_config
from llava_detseg.models.utils.export import (CONFIG_FILE, EXTRA_FILE,
                                              VISION_DIR, ExportError,
                                              export_model, load_exported)
from llava_detseg.registry import MODELS

ROUTER_CONFIG = osp.join(
    ROOT, 'configs',
    'llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py')
# a prompt and an answer in the text format: the format tokens' rows matter
QUESTION = 'Detect all objects. <DET>circle <loc_1><loc_2><loc_30>'
ANSWER = ('Answer: 2 <DET>circle <loc_1><loc_2><loc_30><loc_40>; '
          'square <loc_500><loc_7><loc_999><loc_8></DET>')
ATOL = RTOL = 1e-5


def _merge_lora_main(argv):
    """Run tools/model_converters/merge_lora.py in this process (fast)."""
    path = osp.join(ROOT, 'tools', 'model_converters', 'merge_lora.py')
    spec = importlib.util.spec_from_file_location('merge_lora_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old = sys.argv
    sys.argv = [path] + list(argv)
    try:
        return module.main()
    finally:
        sys.argv = old


def _perturb(model):
    """Move every weight the export must carry away from its init."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('special_delta'):
                # large enough that greedy answers are format tokens
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            elif not name.startswith(('backbone.vit.', 'language.llava.')):
                p.add_(torch.randn(p.shape, generator=gen) * 0.02)


@pytest.fixture(scope='module',
                params=['router-moe', 'mlp2x_gelu', 'multi-layer'])
def exported(request, tiny_ckpt, shapes_root, tmp_path_factory):
    """A perturbed tiny text-token model, its checkpoint and its export."""
    root = tmp_path_factory.mktemp(f'export_{request.param}')
    if request.param == 'router-moe':  # router + MoE projector
        cfg = tiny_config(tiny_ckpt, shapes_root, config=ROUTER_CONFIG)
    elif request.param == 'mlp2x_gelu':  # a replaced projector, no router
        cfg = tiny_config(tiny_ckpt, shapes_root)
        cfg.model.language.projector = dict(type='mlp2x_gelu')
    else:  # the make demo default's: ViT layers 1 and -2 concatenated
        cfg = tiny_config(tiny_ckpt, shapes_root)
        cfg.model.language.vision_feature_layer = [1, -2]
        cfg.model.language.projector = dict(type='mlp2x_gelu',
                                            load_pretrained=False)
    cfg.model.language.special_tokens = dict(num_bins=1000)
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    _perturb(model)
    ckpt, cfg_file = str(root / 'model.pth'), str(root / 'cfg.py')
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), ckpt)
    cfg.dump(cfg_file)
    # no model.adapters: merge_lora has nothing to merge and just exports
    assert _merge_lora_main([cfg_file, ckpt, '--out-dir',
                             str(root / 'out')]) == 0
    return dict(model=model.eval(), cfg=cfg, folder=str(root / 'out' / 'hf'),
                kind=request.param)


def _assert_close_tree(got, ref, path='out'):
    if isinstance(ref, torch.Tensor):
        torch.testing.assert_close(got, ref, rtol=RTOL, atol=ATOL, msg=path)
    elif isinstance(ref, dict):
        assert set(got) == set(ref), path
        for k in ref:
            _assert_close_tree(got[k], ref[k], f'{path}.{k}')
    elif isinstance(ref, (list, tuple)):
        assert len(got) == len(ref), path
        for i, (g, r) in enumerate(zip(got, ref)):
            _assert_close_tree(g, r, f'{path}[{i}]')
    else:
        assert got == ref, path


def test_export_layout(exported):
    folder = exported['folder']
    for name in (CONFIG_FILE, EXTRA_FILE, 'config.json', 'model.safetensors',
                 'tokenizer.json', osp.join(VISION_DIR, 'config.json'),
                 osp.join(VISION_DIR, 'model.safetensors')):
        assert osp.isfile(osp.join(folder, name)), name
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(folder, CONFIG_FILE))
    assert cfg.model.adapters is None and cfg.model.distiller is None
    assert cfg.model.backbone.pretrained == osp.join(folder, VISION_DIR)
    assert cfg.model.language.pretrained == folder
    from safetensors.torch import load_file
    keys = set(load_file(osp.join(folder, EXTRA_FILE)))
    assert any(k.startswith('det_head.') for k in keys)
    assert any(k.startswith('seg_head.') for k in keys)
    assert any(k.startswith('neck.') for k in keys)
    assert any(k.startswith('language.mm_projector.') for k in keys)
    if exported['kind'] == 'router-moe':
        assert any(k.startswith('router.') for k in keys)
    assert not any(k.startswith(('backbone.vit.', 'language.llava.'))
                   for k in keys)


def test_exported_model_gives_the_same_outputs(exported):
    model = exported['model']
    loaded, cfg = load_exported(exported['folder'], device='cpu')
    assert not loaded.training
    # the delta rows were folded: the rebuilt deltas start at zero
    assert not loaded.language.llava.lm_head.special_delta.any()
    inputs = torch.randn(2, 3, 128, 128, generator=torch.Generator()
                         .manual_seed(2))
    with torch.no_grad():
        ref = model(inputs, mode='tensor')
        got = loaded(inputs, mode='tensor')
    _assert_close_tree(got, ref)
    conv = [dict(value=f'<image>\n{QUESTION}', **{'from': 'human'}),
            dict(value=ANSWER, **{'from': 'gpt'})]
    with torch.no_grad():
        logits_ref, target_ref = model.language.answer_logits(
            ref['image_tokens'], [conv], [0])
        logits, target = loaded.language.answer_logits(
            got['image_tokens'], [conv], [0])
    assert torch.equal(target, target_ref)
    fmt = set(model.language.detseg_token_ids)
    assert fmt & set(target.tolist())  # the answer holds format tokens
    torch.testing.assert_close(logits, logits_ref, rtol=RTOL, atol=ATOL)
    answers_ref = model.language.predict(
        ref['image_tokens'], [QUESTION] * 2, [0, 1], max_new_tokens=8)
    answers = loaded.language.predict(
        got['image_tokens'], [QUESTION] * 2, [0, 1], max_new_tokens=8)
    assert answers == answers_ref
    assert any('<loc_' in a or '<DET>' in a or '<poly>' in a
               for a in answers), answers


def test_plain_hf_model_has_the_trained_format_rows(exported):
    from transformers import LlavaForConditionalGeneration
    model = exported['model']
    llava = model.language.llava
    hf = LlavaForConditionalGeneration.from_pretrained(exported['folder'])
    ids = torch.as_tensor(model.language.detseg_token_ids)
    with torch.no_grad():
        torch.testing.assert_close(
            hf.get_input_embeddings()(ids),
            llava.get_input_embeddings()(ids), rtol=RTOL, atol=ATOL)
        x = torch.randn(3, hf.config.text_config.hidden_size)
        torch.testing.assert_close(hf.lm_head(x), llava.lm_head(x),
                                   rtol=RTOL, atol=ATOL)
        if exported['kind'] in ('mlp2x_gelu', 'multi-layer'):
            # the replaced projector is LLaVA's own kind: hf/ holds it, and
            # a layer list in its config sizes it
            layers = model.language.vision_feature_layer
            num = 1 if isinstance(layers, int) else len(layers)
            assert hf.config.vision_feature_layer == (
                layers if num == 1 else list(layers))
            feats = torch.randn(1, 4,
                                hf.config.vision_config.hidden_size * num)
            torch.testing.assert_close(
                hf.model.multi_modal_projector(feats),
                model.language.mm_projector(feats), rtol=RTOL, atol=ATOL)
    assert hf.model.vision_tower is not None


def test_load_exported_moved_and_refused(exported, tmp_path):
    with pytest.raises(FileNotFoundError, match=CONFIG_FILE):
        load_exported(str(tmp_path))
    # one key gone from the extra weights: named with the file
    from safetensors.torch import load_file, save_file
    folder = str(tmp_path / 'copy')
    shutil.copytree(exported['folder'], folder)
    # a moved export loads from where it is now
    _, cfg = load_exported(folder)
    assert cfg.model.language.pretrained == folder
    assert cfg.model.backbone.pretrained == osp.join(folder, VISION_DIR)
    extra = osp.join(folder, EXTRA_FILE)
    state = load_file(extra)
    key = sorted(k for k in state if k.startswith('det_head.'))[0]
    del state[key]
    save_file(state, extra)
    with pytest.raises(KeyError, match=f'{EXTRA_FILE}.*missing key '
                       f'"{key}"'):
        load_exported(folder)


def test_export_refuses_a_quantized_language_model(exported, tmp_path):
    # bitsandbytes needs CUDA, so the model itself cannot be quantized here;
    # its config says it is, and the check reads both
    cfg = copy.deepcopy(exported['cfg'])
    cfg.model.language.quantization = '4bit'
    out = tmp_path / 'q'
    with pytest.raises(ExportError, match='quantized') as info:
        export_model(exported['model'], cfg, str(out))
    assert '\n' not in str(info.value)
    assert not out.exists()  # refused before anything was written


def test_export_unties_tied_embeddings(shapes_root, tmp_path):
    """With ``tie_word_embeddings`` the two deltas differ, so the export
    saves two matrices and an untied config."""
    from llava_detseg.models.language import write_tiny_checkpoints
    from transformers import LlavaForConditionalGeneration
    ckpt = write_tiny_checkpoints(str(tmp_path / 'ckpt'),
                                  text=dict(tie_word_embeddings=True))
    cfg = tiny_config(ckpt, shapes_root)
    cfg.model.det_head = cfg.model.seg_head = None
    cfg.model.language.special_tokens = dict(num_bins=1000)
    init_default_scope('llava_detseg')
    model = MODELS.build(copy.deepcopy(cfg.model)).eval()
    llava = model.language.llava
    assert llava.lm_head.weight is llava.get_input_embeddings().weight
    _perturb(model)
    folder = export_model(model, cfg, str(tmp_path / 'hf'))
    assert llava.config.get_text_config().tie_word_embeddings  # restored
    hf = LlavaForConditionalGeneration.from_pretrained(folder)
    loaded, _ = load_exported(folder)
    ids = torch.as_tensor(model.language.detseg_token_ids[:8] + [5, 6])
    x = torch.randn(3, hf.config.text_config.hidden_size)
    with torch.no_grad():
        for other in (hf, loaded.language.llava):
            torch.testing.assert_close(
                other.get_input_embeddings()(ids),
                llava.get_input_embeddings()(ids), rtol=RTOL, atol=ATOL)
            torch.testing.assert_close(other.lm_head(x), llava.lm_head(x),
                                       rtol=RTOL, atol=ATOL)
