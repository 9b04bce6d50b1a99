"""Export a LlavaDetSeg model as a self-contained Hugging Face folder.

A plain ``LlavaForConditionalGeneration.from_pretrained(folder)`` gets the
language model with the trained ``<DET>``/``<SEG>``/``<loc_i>`` rows folded
into its embedding and ``lm_head`` (the ``special_delta`` tables of
``language/special_tokens.py``), and :func:`load_exported` rebuilds the whole
model from the same folder::

    folder/
      config.json, generation_config.json, model.safetensors
                                  the LLaVA (language model, lm_head,
                                  projector where LLaVA can hold it, the
                                  backbone as vision tower where the
                                  architectures match) - transformers' files
      tokenizer.json, tokenizer_config.json, ...   the tokenizer (with the
                                  format's tokens)
      vision/                     the backbone as a ``CLIPVisionModel``
      llava_detseg_config.py      the resolved config: no adapters, no
                                  distiller, backbone / language
                                  ``pretrained`` pointing inside the folder
      llava_detseg_extra.safetensors  everything else: neck, heads, router,
                                  a replaced projector (``language.mm_projector``)

Without a language branch the LLaVA and tokenizer files are absent.
"""
import copy
import logging
import os
import os.path as osp
from contextlib import contextmanager
from typing import Dict, Iterator, List, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from torch import Tensor, nn

CONFIG_FILE = 'llava_detseg_config.py'
EXTRA_FILE = 'llava_detseg_extra.safetensors'
VISION_DIR = 'vision'
#: State-dict prefixes that the Hugging Face folders hold; the rest of the
#: state dict goes into ``EXTRA_FILE``.
HF_PREFIXES = ('backbone.vit.', 'language.llava.')
#: Parts a loaded model rebuilds without: the teacher of distillation only
#: trains, and adapters are merged before export.
DROPPED_PREFIXES = ('distiller.', 'adapters.')


class ExportError(ValueError):
    """What the export cannot write, said in one line."""


def check_exportable(model: nn.Module, cfg: Config) -> None:
    """Raise :class:`ExportError` (one line) for what the folder could not
    carry exactly."""
    from ..adapters.lora import _tuner_layers
    layers = [n for n, _ in _tuner_layers(model)]
    if layers:
        raise ExportError(
            f'export: {len(layers)} LoRA layers are not merged (e.g. '
            f'{layers[0]}); call llava_detseg.models.adapters.merge_adapters '
            'first')
    vit = getattr(model.backbone, 'vit', None)
    if not hasattr(vit, 'save_pretrained'):
        raise ExportError(
            f'export: backbone {type(model.backbone).__name__} has no '
            'Hugging Face vision model (.vit) to save')
    language = getattr(model, 'language', None)
    lang_cfg = cfg.model.get('language') or {}
    if language is not None and (
            lang_cfg.get('quantization') or
            getattr(language.llava, 'is_quantized', False)):
        raise ExportError(
            'export: the language model is quantized '
            f'(language.quantization={lang_cfg.get("quantization")!r}); '
            'the format-token rows cannot be folded into quantized weights: '
            'export a model loaded without quantization')
    meta = next((n for n, p in model.state_dict().items() if p.is_meta),
                None)
    if meta is not None:
        raise ExportError(f'export: {meta} is on the meta device (a '
                          'meta_build model has no weights to export)')


def _folded_embedding(emb: nn.Embedding) -> nn.Embedding:
    """A plain embedding whose rows hold ``weight + special_delta``."""
    weight = emb.weight.detach().clone()
    ids = (emb.delta_row >= 0).nonzero(as_tuple=True)[0]
    weight[ids] += emb.special_delta.detach()[emb.delta_row[ids]].to(
        weight.dtype)
    return nn.Embedding(emb.num_embeddings, emb.embedding_dim,
                        padding_idx=emb.padding_idx, _weight=weight,
                        _freeze=True)


def _folded_linear(head: nn.Linear) -> nn.Linear:
    """A plain ``nn.Linear`` whose output rows hold ``weight + delta``."""
    weight = head.weight.detach().clone()
    weight.index_add_(0, head.delta_ids,
                      head.special_delta.detach().to(weight.dtype))
    # meta: the weight is replaced at once, no need to allocate a random one
    out = nn.Linear(head.in_features, head.out_features,
                    bias=head.bias is not None, device='meta')
    out.weight = nn.Parameter(weight, requires_grad=False)
    out.bias = head.bias
    return out


@contextmanager
def _hf_view(model: nn.Module) -> Iterator[Tuple[nn.Module, List[str]]]:
    """The LLaVA as a plain transformers model while the block runs.

    Folds the format tokens' deltas into plain modules, puts the backbone
    back as the vision tower (the branch drops LLaVA's own at load) when the
    architectures match and an ``mlp2x_gelu`` replacement projector back as
    ``multi_modal_projector``; everything is restored afterwards. Yields the
    LLaVA and what plain transformers will not find in the folder.
    """
    from ..language.projectors import MLPProjector
    from ..language.special_tokens import DeltaEmbedding, DeltaLinear
    language = model.language
    llava, vit = language.llava, model.backbone.vit
    inner = llava.model
    saved = dict(emb=llava.get_input_embeddings(),
                 head=llava.get_output_embeddings(),
                 tower=inner.vision_tower,
                 proj=inner.multi_modal_projector,
                 layer=llava.config.vision_feature_layer)
    configs = [c for c in {id(c): c for c in (
        llava.config, llava.config.get_text_config())}.values()
        if hasattr(c, 'tie_word_embeddings')]
    ties = [c.tie_word_embeddings for c in configs]
    lacks = []
    try:
        emb, head = saved['emb'], saved['head']
        if isinstance(emb, DeltaEmbedding):
            llava.set_input_embeddings(_folded_embedding(emb))
        if isinstance(head, DeltaLinear):
            llava.set_output_embeddings(_folded_linear(head))
            # the folded matrices differ: a tied config would load one twice
            for c in configs:
                c.tie_word_embeddings = False
        vc = llava.config.vision_config
        same = all(
            getattr(vit.config, k) == getattr(vc, k)
            for k in ('hidden_size', 'num_hidden_layers', 'patch_size',
                      'image_size', 'intermediate_size'))
        inner.vision_tower = vit if same else None
        if not same:
            lacks.append('the vision tower (the backbone differs from the '
                         'LLaVA vision config; it is in vision/)')
        layers = language.vision_feature_layer
        if not isinstance(layers, int):
            # concatenated layers: transformers sizes the projector (and
            # picks the features) from the config's list
            llava.config.vision_feature_layer = list(layers)
        proj = language.mm_projector
        if proj is not None:
            if type(proj) is MLPProjector:
                inner.multi_modal_projector = proj
            else:
                inner.multi_modal_projector = None
                lacks.append(f'the {type(proj).__name__} projector (in '
                             f'{EXTRA_FILE})')
        if getattr(model, 'router', None) is not None:
            lacks.append(f'the router (in {EXTRA_FILE})')
        yield llava, lacks
    finally:
        llava.set_input_embeddings(saved['emb'])
        if saved['head'] is not None:
            llava.set_output_embeddings(saved['head'])
        inner.vision_tower = saved['tower']
        inner.multi_modal_projector = saved['proj']
        llava.config.vision_feature_layer = saved['layer']
        for c, tie in zip(configs, ties):
            c.tie_word_embeddings = tie


def extra_state_dict(model: nn.Module) -> Dict[str, Tensor]:
    """The weights the Hugging Face folders do not hold, as safetensors
    takes them (contiguous, CPU, no shared storage)."""
    return {
        k: v.detach().cpu().contiguous().clone()
        for k, v in model.state_dict().items()
        if not k.startswith(HF_PREFIXES + DROPPED_PREFIXES)
    }


def export_model(model: nn.Module, cfg: Config, out_dir: str) -> str:
    """Write ``model`` (built from ``cfg``, adapters merged) into ``out_dir``.

    Args:
        model (nn.Module): A ``LlavaDetSeg``.
        cfg (Config): The config it was built from (the whole file: the
            export's config keeps the data and evaluation settings too).
        out_dir (str): The folder to write (see the module docstring).

    Returns:
        str: ``out_dir``.

    Raises:
        ExportError: One line naming what cannot be exported (unmerged
            adapters, a quantized language model, ...), before anything is
            written.
    """
    from safetensors.torch import save_file
    check_exportable(model, cfg)
    folder = osp.abspath(out_dir)
    os.makedirs(folder, exist_ok=True)
    model.backbone.vit.save_pretrained(osp.join(folder, VISION_DIR))
    if getattr(model, 'language', None) is not None:
        with _hf_view(model) as (llava, lacks):
            llava.save_pretrained(folder)
        model.language.tokenizer.save_pretrained(folder)
        if lacks:
            print_log(
                f'{folder}: a plain LlavaForConditionalGeneration lacks '
                f'{"; ".join(lacks)}; load the full model with '
                'llava_detseg.models.utils.load_exported', logger='current',
                level=logging.WARNING)
    save_file(extra_state_dict(model), osp.join(folder, EXTRA_FILE),
              metadata=dict(format='pt', producer='llava_detseg export'))
    export_cfg = copy.deepcopy(cfg)
    export_cfg.model.adapters = None
    export_cfg.model.distiller = None
    _point_inside(export_cfg, folder)
    export_cfg.load_from = None
    export_cfg.resume = False
    export_cfg.dump(osp.join(folder, CONFIG_FILE))
    return out_dir


def _point_inside(cfg: Config, folder: str) -> None:
    """Point ``pretrained`` of the backbone and language at ``folder``."""
    cfg.model.backbone.pretrained = osp.join(folder, VISION_DIR)
    if cfg.model.get('language') is not None:
        cfg.model.language.pretrained = folder


def _require(folder: str, names: List[str]) -> None:
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} is not a folder')
    for name in names:
        if not osp.exists(osp.join(folder, name)):
            raise FileNotFoundError(
                f'{folder} is not a LlavaDetSeg export: {name} is missing '
                '(write one with tools/model_converters/merge_lora.py)')


def load_extra(model: nn.Module, path: str) -> None:
    """Load ``EXTRA_FILE`` into ``model`` strictly (every key of the model
    outside the Hugging Face parts, nothing else, the same shapes)."""
    from safetensors.torch import load_file
    state = load_file(path)
    own = {
        k: v for k, v in model.state_dict().items()
        if not k.startswith(HF_PREFIXES + DROPPED_PREFIXES)
    }
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    for what, keys in (('missing', missing), ('unexpected', unexpected)):
        if keys:
            more = f' (and {len(keys) - 1} more)' if len(keys) > 1 else ''
            raise KeyError(f'{path}: {what} key "{keys[0]}"{more}; the '
                           'config and the weights of the export disagree')
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise ValueError(
                f'{path}: "{key}" has shape {tuple(value.shape)}, the model '
                f'built from the config expects {tuple(own[key].shape)}')
    model.load_state_dict(state, strict=False)


def load_exported(folder: str, device: str = 'cpu',
                  **overrides) -> Tuple[nn.Module, Config]:
    """Rebuild the model that :func:`export_model` wrote into ``folder``.

    Args:
        folder (str): The export folder.
        device (str): Where to put the model.
        **overrides: Merged into the config first, as ``--cfg-options`` are
            (dotted keys, e.g. ``**{'model.language.max_new_tokens': 64}``).
            ``pretrained`` paths always point into ``folder``, wherever it
            was moved.

    Returns:
        tuple: ``(model, cfg)``; the model in eval mode.
    """
    from mmengine.registry import init_default_scope

    from llava_detseg.registry import MODELS
    from llava_detseg.utils import register_all_modules
    folder = osp.abspath(osp.expanduser(folder))
    _require(folder, [CONFIG_FILE, EXTRA_FILE,
                      osp.join(VISION_DIR, 'config.json')])
    cfg = Config.fromfile(osp.join(folder, CONFIG_FILE))
    if overrides:
        cfg.merge_from_dict(overrides)
    if cfg.model.get('language') is not None:
        _require(folder, ['config.json'])
    _point_inside(cfg, folder)
    register_all_modules()
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    # No init_weights: every weight comes from the folder.
    model = MODELS.build(cfg.model)
    load_extra(model, osp.join(folder, EXTRA_FILE))
    return model.to(device).eval(), cfg
