"""Training memory per GPU of a config, on paper, from a meta-device build.

Parts (``count_params.py``'s, plus the router): parameters (frozen and
trainable), gradients, optimizer state and activations, for one GPU of a
data-parallel run (DDP: every rank holds all of it).

* **Parameters**: the meta build's own dtypes (the config's ``torch_dtype``),
  or ``--dtype`` for the frozen weights (trainable ones stay as built: the
  ``AmpOptimWrapper`` trains fp32 weights under bf16 autocast).
  ``--quantization 4bit`` (or the config's ``language.quantization``) stores
  the language branch's frozen ``nn.Linear`` weights as NF4 with double
  quantisation, as ``check_quantization`` asks bitsandbytes to: 0.5 byte per
  weight + an 8-bit absmax per 64 weights + an fp32 constant per 256 absmax
  (``0.5 + 1/64 + 4/16384`` byte); ``lm_head`` is not quantised, and
  ``prepare_model_for_kbit_training`` casts every other bf16 weight of the
  branch (embeddings, norms, ``lm_head``, biases) to fp32.
* **Gradients**: one per trainable parameter, in its dtype.
* **Optimizer state**: the config's optimizer (AdamW: ``exp_avg`` and
  ``exp_avg_sq`` per trainable parameter, in its dtype, i.e. fp32) plus fp32
  master copies where the wrapper keeps them (DeepSpeed with bf16/fp16;
  MMEngine's ``AmpOptimWrapper`` keeps none: its weights are fp32 already).
  A DeepSpeed strategy with bf16 holds the whole model in bf16 and fp32
  masters; ZeRO-1 divides moments and masters by ``--num-gpus`` (default:
  the config's ``num_gpus``), ZeRO-2 the gradients too.
* **Activations, measured**: the real modules of the build run one forward
  on meta tensors of the training shapes, and every tensor that autograd
  saves for backward is counted once per storage (parameters excluded),
  per source of the mixture (a batch holds one source, so the peak is the
  largest): COCO -> backbone, router, neck, FCOS; ADE20K -> backbone,
  router, neck, FCN; LLaVA -> backbone, router, projector and the LLM on
  ``images x conversations`` sequences of ``576 + text`` tokens with
  ``lm_head`` and the cross-entropy on the answer tokens. Image sizes come
  from the pipelines (Resize scale / RandomCrop / Pad), padded to the data
  preprocessor's ``pad_size_divisor``. Checkpointing off: everything saved.
  On: the saved tensors outside the checkpointed transformer layers, plus
  each layer's input (kept to recompute it), plus the largest single layer
  (recomputed during its backward). Per layer and token this measures
  about 34 x width bytes for a bf16 LLaMA-7B layer with LoRA on q/k/v (the
  34 s b h of Korthikanti et al., 2022, without the attention scores) and
  30 x width for a CLIP ViT-L layer. On a CPU run of reduced LLaMA layers
  the count is what the profiler sees left allocated after the forward,
  within a few percent, checkpointing off and on
  (``tests/tools/test_memory_estimate.py``).

Assumptions (printed with the table): attention runs a flash /
memory-efficient SDPA kernel (q, k, v, output and an fp32 logsumexp are
saved, never the s x s scores), with no padding mask; the compute dtype is
the whole model cast to ``--dtype`` (autocast's fp32 norms and softmaxes,
and the fp32 residual stream that the 4-bit preparation leaves, are not
modelled: 4-bit activations are counted as bf16); the router's token
experts see every token (meta tensors cannot route: an upper bound on the
pool); the dense heads' losses, the gradients of activations during backward
and the allocator's fragmentation are not counted; CUDA context and NCCL
buffers (about 1-2 GiB) neither.

Example:
    python tools/analysis_tools/memory_estimate.py configs/llava_detseg.py
    python tools/analysis_tools/memory_estimate.py configs/llava_detseg.py \
        --quantization 4bit --gradient-checkpointing off
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _bootstrap import ensure_package  # noqa: E402
# SavedTensors: the counter, for callers that measure a module of their own
from activation_memory import SavedTensors, measure_activations  # noqa
from count_params import PARTS as COUNT_PARTS  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

#: count_params.py's parts; the router is split out of its ``other``.
PARTS = OrderedDict(list(COUNT_PARTS.items()) + [('router', ('router.', ))])
#: NF4 + double quantisation: 4 bits, an 8-bit absmax per 64 weights, an
#: fp32 constant per 256 of those (QLoRA, bitsandbytes' defaults).
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
DTYPES = dict(bf16=torch.bfloat16, fp32=torch.float32)
#: optimizer states per trainable parameter
MOMENTS = dict(AdamW=2, Adam=2, RMSprop=1, Adagrad=1, SGD=1)
GIB = 2**30


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--dtype',
        choices=tuple(DTYPES),
        help='frozen weights and activations (default: as the config '
        'builds them, activations in the AMP dtype)')
    parser.add_argument(
        '--quantization',
        choices=('4bit', 'none'),
        help="the language model's frozen weights (default: the config's "
        'language.quantization)')
    parser.add_argument(
        '--gradient-checkpointing',
        choices=('on', 'off'),
        help="default: the config's model.gradient_checkpointing")
    parser.add_argument(
        '--batch-size',
        type=int,
        help="images per GPU (default: the train dataloader's)")
    parser.add_argument(
        '--num-gpus',
        type=int,
        help="GPUs that ZeRO shards over (default: the config's num_gpus)")
    parser.add_argument(
        '--text-tokens',
        type=int,
        help="text tokens per conversation (default: language.max_length)")
    parser.add_argument(
        '--convs-per-image',
        type=int,
        help='conversations per image (default: SampleConversations max_num)')
    parser.add_argument(
        '--answer-ratio',
        type=float,
        default=0.5,
        help='share of the text tokens that are answers (lm_head + loss)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


# ----------------------------------------------------------------------------
# parameters, gradients, optimizer state
# ----------------------------------------------------------------------------
def part_of(name: str) -> str:
    """The part of a parameter, adapters apart (``adapters/<group>``)."""
    from llava_detseg.models.adapters import adapter_group
    group = adapter_group(name)
    if group is not None:
        return f'adapters/{group}'
    return next(
        (p for p, prefixes in PARTS.items() if name.startswith(prefixes)),
        'other')


def quantized_weights(model: nn.Module) -> set:
    """Names of the weights bitsandbytes stores in 4 bit: every
    ``nn.Linear`` of the language branch except ``lm_head`` and LoRA's own."""
    language = getattr(model, 'language', None)
    llava = getattr(language, 'llava', None)
    if llava is None:
        return set()
    return {
        f'language.llava.{name}.weight'
        for name, module in llava.named_modules()
        if isinstance(module, nn.Linear) and 'lora_' not in name
        and not name.startswith('lm_head')
    }


def param_rows(model: nn.Module,
               dtype: Optional[torch.dtype] = None,
               quantization: Optional[str] = None,
               half_trainable: bool = False) -> Dict[str, dict]:
    """``{part: dict(frozen, trainable, frozen_bytes, trainable_bytes)}``.

    Bytes are numel x bytes per element of each parameter: its built dtype,
    ``dtype`` for frozen ones when given, NF4 for the quantised weights, 2
    for trainable ones with ``half_trainable`` (DeepSpeed's bf16 copy).
    """
    quant = quantized_weights(model) if quantization == '4bit' else set()
    rows: Dict[str, dict] = OrderedDict(
        (p, dict(frozen=0, trainable=0, frozen_bytes=0.0, trainable_bytes=0.0))
        for p in list(PARTS) + ['other'])
    for name, param in model.named_parameters():
        row = rows.setdefault(
            part_of(name),
            dict(frozen=0, trainable=0, frozen_bytes=0.0, trainable_bytes=0.0))
        n = param.numel()
        if param.requires_grad:
            row['trainable'] += n
            row['trainable_bytes'] += n * (2 if half_trainable else
                                           param.element_size())
            continue
        size = param.element_size() if dtype is None else \
            torch.empty((), dtype=dtype).element_size()
        if name in quant:
            size = NF4_BYTES
        elif quant and name.startswith('language.llava.'):
            # prepare_model_for_kbit_training: every other weight -> fp32
            size = 4
        row['frozen'] += n
        row['frozen_bytes'] += n * size
    return OrderedDict(
        (k, v) for k, v in rows.items() if v['frozen'] or v['trainable'])


def engine_of(cfg: Config, num_gpus: Optional[int] = None) -> dict:
    """How the training engine stores the trainable state: ``half`` (the
    whole model in bf16/fp16 with fp32 masters: DeepSpeed), the ZeRO
    ``stage`` and the ``world`` size it shards over."""
    strategy = cfg.get('strategy') or {}
    deepspeed = 'DeepSpeed' in str(strategy.get('type', ''))
    half = deepspeed and any(
        (strategy.get(k) or {}).get('enabled') for k in ('bf16', 'fp16'))
    stage = int((strategy.get('zero_optimization') or {}).get('stage', 0)) \
        if deepspeed else 0
    world = num_gpus or int(cfg.get('num_gpus', 1))
    return dict(deepspeed=deepspeed, half=half, stage=stage, world=world)


def training_state(cfg: Config, model: nn.Module,
                   engine: dict) -> Tuple[float, float, float, str]:
    """``(gradients, optimizer moments, master copies, note)`` in bytes per
    GPU for the trainable parameters, from the config's optimizer and
    engine (ZeRO-1 shards moments and masters, ZeRO-2 the gradients too)."""
    optim = cfg.get('optim_wrapper', {}).get('optimizer', {})
    name = str(optim.get('type', 'AdamW')).split('.')[-1]
    states = MOMENTS.get(name, 2)
    if name == 'SGD' and not optim.get('momentum', 0):
        states = 0
    if optim.get('amsgrad'):
        states += 1
    grads = moments = master = 0.0
    for p in model.parameters():
        if not p.requires_grad:
            continue
        n = p.numel()
        # DeepSpeed trains a half copy and steps fp32 masters; MMEngine's
        # wrappers step the weights themselves (fp32 under AmpOptimWrapper)
        size = 2 if engine['half'] else p.element_size()
        grads += n * size
        moments += states * n * (4 if engine['half'] else size)
        master += 4 * n if engine['half'] else 0
    world = engine['world']
    if engine['stage'] >= 1:
        moments, master = moments / world, master / world
    if engine['stage'] >= 2:
        grads /= world
    wrapper = cfg.get('optim_wrapper', {}).get('type', 'OptimWrapper')
    note = (f'{name}: {states} state(s) per trainable parameter; {wrapper}' +
            (f', ZeRO-{engine["stage"]} over {world} GPUs'
             if engine['stage'] else '') + ': ' +
            ('fp32 masters of the half-precision weights' if engine['half']
             else "no master copies (it steps the model's fp32 weights)"))
    return grads, moments, master, note


# ----------------------------------------------------------------------------
# the whole estimate
# ----------------------------------------------------------------------------
def build_meta_model(cfg: Config) -> nn.Module:
    """The config's model on the meta device (``meta_build``)."""
    from mmengine.registry import init_default_scope

    from llava_detseg.registry import MODELS
    from llava_detseg.utils import meta_build, register_all_modules
    register_all_modules()
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    with meta_build():
        return MODELS.build(cfg.model)


def resolve(cfg: Config,
            dtype: Optional[str] = None,
            quantization: Optional[str] = None,
            gradient_checkpointing: Optional[str] = None,
            batch_size: Optional[int] = None,
            text_tokens: Optional[int] = None,
            convs_per_image: Optional[int] = None,
            num_gpus: Optional[int] = None) -> dict:
    """The options, with the config's values where none is given."""
    if 'train_dataloader' not in cfg:
        raise ValueError(
            'memory_estimate: the config has no train_dataloader; the '
            'activation shapes come from its pipelines and batch size (for a '
            'model-only config such as configs/lora/*qlora-4bit.py, run the '
            'full config with --quantization 4bit)')
    lang = cfg.model.get('language') or {}
    wrapper = cfg.get('optim_wrapper', {})
    engine = engine_of(cfg, num_gpus)
    amp = 'bf16' if 'bfloat16' in str(wrapper.get('dtype', '')) or \
        engine['half'] else None
    if dtype is None and engine['half']:
        dtype = 'bf16'  # DeepSpeed casts the whole model
    if quantization is None:
        quantization = lang.get('quantization')
    if quantization == 'none':
        quantization = None
    if gradient_checkpointing is None:
        checkpointing = bool(cfg.model.get('gradient_checkpointing', False))
    else:
        checkpointing = gradient_checkpointing == 'on'
    if convs_per_image is None:
        convs_per_image = 1
        datasets = cfg.train_dataloader.dataset.get('datasets') or {}
        for dataset in (datasets.values()
                        if isinstance(datasets, dict) else []):
            for step in dataset.get('pipeline', []):
                if str(step.get('type')).endswith('SampleConversations'):
                    convs_per_image = max(convs_per_image,
                                          step.get('max_num') or 1)
    return dict(
        dtype=dtype,
        act_dtype=dtype or amp or 'fp32',
        quantization=quantization,
        checkpointing=checkpointing,
        batch_size=batch_size or cfg.train_dataloader.batch_size,
        text_tokens=text_tokens or lang.get('max_length', 2048),
        convs_per_image=convs_per_image,
        engine=engine)


def estimate(cfg: Config,
             model: Optional[nn.Module] = None,
             answer_ratio: float = 0.5,
             activations: Optional[dict] = None,
             **options) -> dict:
    """Every number of the report: ``params`` (per part), ``grads``,
    ``optimizer``, ``master``, ``activations`` (per source) and the total.

    ``activations`` may be a previous result's, to reuse its measurement
    (it depends only on the dtype, batch and sequence options).
    """
    opts = resolve(cfg, **options)
    model = build_meta_model(cfg) if model is None else model
    rows = param_rows(
        model,
        DTYPES.get(opts['dtype']),
        opts['quantization'],
        half_trainable=opts['engine']['half'])
    grads, moments, master, optim_note = training_state(
        cfg, model, opts['engine'])
    if activations is None:
        activations = measure_activations(model, cfg, opts['batch_size'],
                                          DTYPES[opts['act_dtype']],
                                          opts['text_tokens'],
                                          opts['convs_per_image'],
                                          answer_ratio)
    key = 'on' if opts['checkpointing'] else 'off'
    peak_source = max(activations, key=lambda s: activations[s][key])
    weights = sum(r['frozen_bytes'] + r['trainable_bytes']
                  for r in rows.values())
    act = activations[peak_source][key]
    return dict(
        options=opts,
        params=rows,
        weights=weights,
        grads=grads,
        optimizer=moments,
        master=master,
        optim_note=optim_note,
        activations=activations,
        peak_source=peak_source,
        peak_activations=act,
        total=weights + grads + moments + master + act)


def format_report(result: dict) -> str:
    """The parameters table, then the per-GPU summary and the assumptions."""
    o = result['options']
    lines = [
        f'{"part":<16}{"frozen":>15}{"trainable":>13}{"frozen GiB":>12}'
        f'{"train. GiB":>12}'
    ]
    for part, r in result['params'].items():
        lines.append(f'{part:<16}{r["frozen"]:>15,}{r["trainable"]:>13,}'
                     f'{r["frozen_bytes"] / GIB:>12.3f}'
                     f'{r["trainable_bytes"] / GIB:>12.3f}')
    frozen = sum(r['frozen'] for r in result['params'].values())
    trainable = sum(r['trainable'] for r in result['params'].values())
    lines.append(f'{"total":<16}{frozen:>15,}{trainable:>13,}')
    lines.append(f'trainable: {trainable:,} of {frozen + trainable:,} = '
                 f'{100.0 * trainable / max(frozen + trainable, 1):.3f} %')
    lines.append('')
    lines.append('activations per source (one source per batch), GiB:')
    for source, a in result['activations'].items():
        lines.append(
            f'  {source:<8}{"+".join(a["tasks"]):<6} {a["size"][0]}x'
            f'{a["size"][1]}  checkpointing off {a["off"] / GIB:8.2f}   '
            f'on {a["on"] / GIB:8.2f}')
        for st in a.get('stacks', []):
            lines.append(
                f'    {st["layers"]} layers x {st["tokens"]} tokens x width '
                f'{st["width"]}: {st["per_token"]:.1f} x width bytes per '
                'token and layer')
    lines.append(
        '  off = saved outside the layers + sum of the layers\' saved '
        'tensors; on = saved outside + each layer\'s input (tokens x width '
        'x bytes) + the largest layer (recomputed)')
    lines.append('')
    ckpt = 'on' if o['checkpointing'] else 'off'
    lines.append(
        f'per GPU: {o["batch_size"]} images, frozen weights '
        f'{o["dtype"] or "as built"}, activations {o["act_dtype"]}, '
        f'quantization {o["quantization"] or "none"}, gradient '
        f'checkpointing {ckpt}, LLM sequences {o["convs_per_image"]} per '
        f'image of 576 + {o["text_tokens"]} tokens')
    lines.append('  total = parameters + gradients + optimizer state + '
                 'master copies + the peak source\'s activations')
    for label, value in (('parameters', result['weights']),
                         ('gradients', result['grads']), ('optimizer state',
                                                          result['optimizer']),
                         ('master copies', result['master']),
                         (f'activations ({result["peak_source"]})',
                          result['peak_activations']), ('total',
                                                        result['total'])):
        lines.append(f'  {label:<22}{value / GIB:9.2f} GiB')
    lines.append(f'optimizer: {result["optim_note"]}')
    lines.append(
        'activations: tensors autograd saves in one forward on the meta '
        'device, once per storage; flash-style SDPA (no s x s scores, no '
        'padding mask); whole model in the activation dtype (no autocast '
        'fp32 norms; 4-bit counted as bf16); router experts see every token;'
        ' dense-head losses, backward temporaries, CUDA context not counted')
    return '\n'.join(lines)


def main() -> int:
    args = parse_args()
    ensure_package()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        result = estimate(
            cfg,
            answer_ratio=args.answer_ratio,
            dtype=args.dtype,
            quantization=args.quantization,
            gradient_checkpointing=args.gradient_checkpointing,
            batch_size=args.batch_size,
            text_tokens=args.text_tokens,
            num_gpus=args.num_gpus,
            convs_per_image=args.convs_per_image)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'config: {args.config} (meta device)')
    print(format_report(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
