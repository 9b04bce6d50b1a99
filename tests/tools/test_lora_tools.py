"""count_params.py, merge_lora.py and tools/test.py --reference-checkpoint."""
import copy
import json
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from conftest import ROOT
from llava_detseg.evaluation.functional import forgetting_rate
from llava_detseg.models.adapters import adapter_parameters
from llava_detseg.registry import DATASETS, MODELS

FULL_LORA = osp.join(ROOT, 'configs', 'lora',
                     'llava-detseg_clip-l14-336_vicuna-7b_lora.py')
LORA_BASE = osp.join(ROOT, 'configs', '_base_', 'models', 'lora_adapters.py')


def run_tool(*args, timeout=600):
    from test_train_test_tools import run_tool as run
    return run(*args, timeout=timeout)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _share(stdout):
    match = re.search(r'trainable: ([\d,]+) of ([\d,]+) = ([\d.]+) %', stdout)
    assert match, stdout
    return (int(match.group(1).replace(',', '')),
            int(match.group(2).replace(',', '')))


@pytest.mark.slow
def test_full_size_trainable_share_on_meta_device():
    proc = _ok(run_tool('tools/analysis_tools/count_params.py', FULL_LORA,
                        '--meta', '--max-trainable-ratio', '0.05'))
    trainable, total = _share(proc.stdout)
    assert total > 7e9  # CLIP ViT-L (0.3B) + the 7B language model
    assert 0 < trainable <= 0.05 * total
    # every trainable parameter is an adapter's
    assert re.search(rf'adapters \(all\)\s+{trainable:,}', proc.stdout)


def _adapted_model_and_files(cfg, tmp_path):
    init_default_scope('llava_detseg')
    cfg.model.adapters = Config.fromfile(LORA_BASE).lora_adapters
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    with torch.no_grad():
        for name, p in adapter_parameters(model).items():
            if 'lora_B' in name:
                p.normal_(0, 0.05)
    ckpt, cfg_file = str(tmp_path / 'lora.pth'), str(tmp_path / 'cfg.py')
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), ckpt)
    cfg.dump(cfg_file)
    return model.eval(), ckpt, cfg_file


@pytest.mark.slow
def test_merge_lora_exports_equal_models(cfg, tmp_path):
    from transformers import LlavaForConditionalGeneration
    model, ckpt, cfg_file = _adapted_model_and_files(cfg, tmp_path)
    out = str(tmp_path / 'merged')
    _ok(run_tool('tools/model_converters/merge_lora.py', cfg_file, ckpt,
                 '--out-dir', out))
    # the MMEngine checkpoint loads strictly into the adapter-free config
    merged_cfg = Config.fromfile(osp.join(out, 'merged_config.py'))
    assert merged_cfg.model.adapters is None
    plain = MODELS.build(merged_cfg.model).eval()
    state = torch.load(osp.join(out, 'merged.pth'), weights_only=False)
    plain.load_state_dict(state['state_dict'])
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    data = model.data_preprocessor(
        dict(inputs=[dataset[0]['inputs']],
             data_samples=[dataset[0]['data_samples']]))
    with torch.no_grad():
        a = model(data['inputs'], mode='tensor')
        b = plain(data['inputs'], mode='tensor')
    # tolerance: float32, summation order only (1e-4 abs + rel)
    for key in ('seg', 'image_tokens'):
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-4)
    # the Hugging Face folder: the merged language model and projector
    hf = LlavaForConditionalGeneration.from_pretrained(osp.join(out, 'hf'))
    assert hf.model.vision_tower is not None  # the merged CLIP went in
    embeds = torch.randn(1, 5, hf.config.text_config.hidden_size)
    with torch.no_grad():
        ref = model.language.llava.model.language_model(
            inputs_embeds=embeds).last_hidden_state
        got = hf.model.language_model(inputs_embeds=embeds).last_hidden_state
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(
            hf.model.multi_modal_projector(a['image_tokens'][:, :0]),
            a['image_tokens'][:, :0])
        vit_ref = model.backbone.vit(data['inputs'][:, :, :32, :32],
                                     interpolate_pos_encoding=True)
        vit_hf = hf.model.vision_tower(data['inputs'][:, :, :32, :32],
                                       interpolate_pos_encoding=True)
        torch.testing.assert_close(vit_hf.last_hidden_state,
                                   vit_ref.last_hidden_state,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_merge_lora_refuses_a_checkpoint_that_does_not_load(cfg, tmp_path):
    # a model without adapters is exported as it is (tests/tools/
    # test_export.py); a file that is no checkpoint of it stops in one line
    cfg_file = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_file)
    proc = run_tool('tools/model_converters/merge_lora.py', cfg_file,
                    cfg_file, '--out-dir', str(tmp_path / 'x'))
    assert proc.returncode == 2 and 'error:' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_forgetting_rate():
    out = forgetting_rate({'vqa/accuracy': 0.3}, {'vqa/accuracy': 0.4})
    assert out['vqa/accuracy_change'] == pytest.approx(-0.1)
    assert out['vqa/forgetting_rate'] == pytest.approx(0.25)
    with pytest.raises(ValueError, match='no benchmark was scored in both'):
        forgetting_rate({'vqa/accuracy': 0.3}, {'coco/bbox_mAP': 0.1})


@pytest.mark.slow
def test_test_tool_reports_forgetting_against_a_reference(cfg, tmp_path):
    _, ckpt, cfg_file = _adapted_model_and_files(cfg, tmp_path)
    reference = str(tmp_path / 'reference.json')
    with open(reference, 'w') as f:
        json.dump({'vqa/accuracy': 0.5}, f)
    proc = _ok(run_tool('tools/test.py', cfg_file, ckpt, '--work-dir',
                        str(tmp_path / 'test'), '--reference-checkpoint',
                        reference))
    acc = float(re.search(r'vqa/accuracy: ([\d.]+)', proc.stdout).group(1))
    rate = float(re.search(r'vqa/forgetting_rate: (-?[\d.]+)',
                           proc.stdout).group(1))
    assert rate == pytest.approx((0.5 - acc) / 0.5, abs=1e-3)
