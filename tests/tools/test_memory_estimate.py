"""tools/analysis_tools/memory_estimate.py on the full config (meta device)."""
import importlib.util
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT

FULL = osp.join(ROOT, 'configs', 'llava_detseg.py')
TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return _load('memory_estimate')


@pytest.fixture(scope='module')
def built(tool):
    """``(cfg, model, bf16 activations)``: one build, one measurement."""
    cfg = Config.fromfile(FULL)
    model = tool.build_meta_model(cfg)
    result = tool.estimate(cfg, model, dtype='bf16')
    return cfg, model, result['activations']


def _estimate(tool, built, **options):
    cfg, model, acts = built
    return tool.estimate(cfg, model, activations=acts, **options)


def test_parameters_match_count_params_and_readme(tool, built):
    cfg, model, _ = built
    rows = _estimate(tool, built)['params']
    counted = _load('count_params').count(model)
    total = sum(r['frozen'] + r['trainable'] for r in rows.values())
    trainable = sum(r['trainable'] for r in rows.values())
    assert total == sum(n for _, n in counted.values())
    assert trainable == sum(t for t, _ in counted.values())
    # the router is split out of count_params' "other", nothing else moves
    assert rows['router']['trainable'] == counted['other'][0]
    with open(osp.join(ROOT, 'README.md')) as f:
        match = re.search(r'Trainable: ([\d.]+) M of ([\d.]+) B', f.read())
    assert match, 'README lost its "Trainable: ... M of ... B" line'
    assert round(trainable / 1e6, 1) == float(match.group(1))
    assert round(total / 1e9, 2) == float(match.group(2))


def test_bytes_are_params_times_element_size(tool, built):
    result = _estimate(tool, built, dtype='bf16')
    for part, row in result['params'].items():
        assert row['frozen_bytes'] == 2 * row['frozen'], part
        # AmpOptimWrapper trains fp32 weights under bf16 autocast
        assert row['trainable_bytes'] == 4 * row['trainable'], part
    trainable = sum(r['trainable'] for r in result['params'].values())
    assert result['grads'] == 4 * trainable
    # AdamW: exp_avg + exp_avg_sq in fp32, no master copies
    assert result['optimizer'] == 8 * trainable
    assert result['master'] == 0
    as_built = _estimate(tool, built)['params']
    # the config loads CLIP in fp32 and the LLM in bf16
    assert as_built['backbone']['frozen_bytes'] == \
        4 * as_built['backbone']['frozen']
    assert as_built['language model']['frozen_bytes'] == \
        2 * as_built['language model']['frozen']


def test_4bit_language_model(tool, built):
    bf16 = _estimate(tool, built, dtype='bf16')['params']['language model']
    nf4 = _estimate(
        tool, built, dtype='bf16',
        quantization='4bit')['params']['language model']
    assert nf4['frozen'] == bf16['frozen']
    assert nf4['frozen_bytes'] < bf16['frozen_bytes'] / 3
    _, model, _ = built
    quantized = tool.quantized_weights(model)
    numel = dict(model.named_parameters())
    q = sum(numel[n].numel() for n in quantized
            if tool.part_of(n) == 'language model')
    # NF4 weights + fp32 embeddings, norms and lm_head (kbit preparation)
    assert nf4['frozen_bytes'] == pytest.approx(q * tool.NF4_BYTES + 4 *
                                                (nf4['frozen'] - q))
    assert not any('lm_head' in n or 'lora_' in n for n in quantized)


def test_gradient_checkpointing_lowers_activations(tool, built):
    on = _estimate(tool, built, gradient_checkpointing='on')
    off = _estimate(tool, built, gradient_checkpointing='off')
    for source, acts in on['activations'].items():
        assert 0 < acts['on'] < acts['off'], source
    assert on['peak_activations'] < off['peak_activations']
    assert on['total'] < off['total']
    # ViT-L on 4 x 577 tokens, then LLaMA-7B on 4 x 4 x (576 + 2048)
    stacks = on['activations']['llava']['stacks']
    assert [(s['layers'], s['tokens'], s['width'])
            for s in stacks] == [(24, 4 * 577, 1024),
                                 (32, 16 * (576 + 2048), 4096)]
    # bf16 LLaMA: Korthikanti et al.'s 34 s b h bytes without the scores
    assert 30 < stacks[1]['per_token'] < 38
    # the sources' own input sizes, padded to the stride-128 grid
    assert {
        s: a['size']
        for s, a in on['activations'].items()
    } == dict(
        coco=(896, 1408), ade=(512, 512), llava=(384, 384))


def test_meta_count_equals_cpu_count(tool):
    """The meta-device count is what autograd really saves on a CPU run of
    the same layers (LLaMA with LoRA on q/k/v, flash SDPA)."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaModel
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=172,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=128,
        attn_implementation='sdpa')
    counts = []
    for device in ('cpu', 'meta'):
        torch.manual_seed(0)
        with torch.device(device):
            model = get_peft_model(
                LlamaModel(config).to(torch.bfloat16),
                LoraConfig(r=4, target_modules=['q_proj', 'k_proj', 'v_proj']))
            embeds = torch.randn(2, 24, 64, dtype=torch.bfloat16)
        counter = tool.SavedTensors(model)
        with counter.record():
            model(inputs_embeds=embeds)
        counts.append((counter.total(False), counter.total(True),
                       len(counter.per_layer)))
    assert counts[0] == counts[1]
    assert counts[0][2] == 2 and counts[0][1] < counts[0][0]


def test_cli(tool):
    from test_train_test_tools import run_tool
    proc = run_tool('tools/analysis_tools/memory_estimate.py', FULL,
                    '--quantization', '4bit', '--gradient-checkpointing',
                    'off', '--batch-size', '2', '--text-tokens', '256')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert 'trainable: 37,601,732 of 7,101,028,804' in out
    assert 'quantization 4bit, gradient checkpointing off' in out
    assert '2 images' in out and '576 + 256 tokens' in out
    assert re.search(r'total\s+[\d.]+ GiB', out)


def test_deepspeed_zero2_shards_and_keeps_masters(tool, built):
    _, model, acts = built
    cfg = Config.fromfile(
        osp.join(
            ROOT, 'configs', 'llava-detseg_clip-l14-336_vicuna-7b_'
            'deepspeed-zero2_8xb4-12e_coco-ade-llava.py'))
    result = tool.estimate(cfg, model, activations=acts)
    trainable = sum(r['trainable'] for r in result['params'].values())
    assert result['options']['engine'] == dict(
        deepspeed=True, half=True, stage=2, world=8)
    # bf16 weights and gradients, fp32 masters and moments, all / 8
    assert sum(r['trainable_bytes']
               for r in result['params'].values()) == 2 * trainable
    assert result['grads'] == pytest.approx(2 * trainable / 8)
    assert result['master'] == pytest.approx(4 * trainable / 8)
    assert result['optimizer'] == pytest.approx(8 * trainable / 8)


def test_model_only_config_is_refused(tool):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'lora',
                 'llava-detseg_clip-l14-336_vicuna-7b_qlora-4bit.py'))
    with pytest.raises(ValueError, match='no train_dataloader'):
        tool.resolve(cfg)


def test_readme_table_is_the_tools_output(tool, built):
    with open(osp.join(ROOT, 'README.md')) as f:
        rows = [
            line for line in f
            if line.startswith(('| bf16 LLM', '| NF4 4-bit LLM'))
        ]
    assert len(rows) == 4, rows
    for line in rows:
        cells = [c.strip().strip('*') for c in line.strip('|\n').split('|')]
        quant = '4bit' if cells[0].startswith('NF4') else 'none'
        result = _estimate(
            tool,
            built,
            quantization=quant,
            dtype='bf16' if quant == '4bit' else None,
            gradient_checkpointing=cells[1])
        gib = tool.GIB
        assert float(cells[2]) == round(result['weights'] / gib, 2), line
        assert float(cells[-1]) == round(result['total'] / gib, 2), line
        acts = [float(a.strip(' *')) for a in cells[5].split('/')]
        assert acts == [
            round(a[cells[1]] / gib, 2)
            for a in result['activations'].values()
        ], line


@pytest.mark.parametrize('checkpointing', [False, True])
def test_estimate_matches_cpu_allocations(tool, checkpointing):
    """What a CPU forward really leaves allocated (the profiler's memory
    events) is the estimate, checkpointing off and on: counted from a run
    without checkpointing, less the one layer recomputed in backward."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaModel
    config = LlamaConfig(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=3,
        num_attention_heads=4,
        vocab_size=128,
        attn_implementation='sdpa')

    def forward(gc: bool):
        torch.manual_seed(0)
        model = get_peft_model(
            LlamaModel(config).to(torch.bfloat16),
            LoraConfig(r=4, target_modules=['q_proj', 'k_proj', 'v_proj']))
        model.train()
        if gc:
            model.base_model.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs=dict(use_reentrant=False))
        embeds = torch.randn(4, 512, 256, dtype=torch.bfloat16)
        counter = tool.SavedTensors(model)
        activities = [torch.profiler.ProfilerActivity.CPU]
        with torch.profiler.profile(
                activities=activities, profile_memory=True) as prof:
            with counter.record():
                out = model(inputs_embeds=embeds, use_cache=False)
        del out
        held = sum(e.self_cpu_memory_usage for e in prof.key_averages())
        return counter, held

    counter, _ = forward(False)
    _, held = forward(checkpointing)
    assert counter.held(checkpointing) == pytest.approx(held, rel=0.1)
    assert counter.recompute() > 0


def test_fp32_doubles_weights_and_activations(tool, built):
    cfg, model, bf16_acts = built
    fp32 = tool.estimate(cfg, model, dtype='fp32')
    bf16 = _estimate(tool, built, dtype='bf16')
    lm = 'language model'
    assert fp32['params'][lm]['frozen_bytes'] == \
        2 * bf16['params'][lm]['frozen_bytes']
    for source, acts in fp32['activations'].items():
        # fp32 logsumexp, token ids and the fp32 loss logits do not double
        ratio = acts['off'] / bf16_acts[source]['off']
        assert 1.5 < ratio <= 2.0, (source, ratio)
