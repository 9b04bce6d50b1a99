"""Merge LoRA / Conv-LoRA adapters into the base weights and export.

Writes into ``--out-dir``:

* ``merged.pth``: an MMEngine checkpoint of the merged model, loadable by the
  same config without ``model.adapters`` (``merged_config.py``, also
  written), e.g. ``tools/test.py merged_config.py merged.pth``;
* ``hf/``: the whole model as a Hugging Face folder
  (``llava_detseg.models.utils.export``):

  * ``config.json``, ``model.safetensors``, tokenizer files: a
    ``LlavaForConditionalGeneration`` (merged language model, the trained
    ``<DET>``/``<SEG>``/``<loc_i>`` rows folded into the embedding and
    ``lm_head``, the projector when LLaVA can hold it, the merged CLIP
    backbone as its vision tower when the architectures match), loadable
    with ``from_pretrained`` and usable as ``language.pretrained``;
  * ``vision/``: the merged backbone as a ``CLIPVisionModel``;
  * ``llava_detseg_config.py``: the resolved config (no adapters, no
    distiller, ``pretrained`` paths inside ``hf/``);
  * ``llava_detseg_extra.safetensors``: neck, heads, router and a replaced
    projector;

  ``load_exported('DIR/hf')`` rebuilds the model from it.

A config without ``model.adapters`` is exported as it is (nothing to merge).
What cannot be exported (e.g. a quantized language model) stops the tool with
one line. The merged model gives the unmerged one's outputs up to float
rounding (tests/tools/test_lora_tools.py checks 1e-4 in float32,
tests/tools/test_export.py the export).

Example:
    python tools/model_converters/merge_lora.py CONFIG CHECKPOINT \
        --out-dir work_dirs/merged
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config (with or without '
                        'model.adapters)')
    parser.add_argument('checkpoint', help='checkpoint of that config')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--no-hf', action='store_true',
                        help='skip the Hugging Face folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    ensure_package()
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from llava_detseg.models.adapters import merge_adapters
    from llava_detseg.models.utils.export import (ExportError,
                                                  check_exportable,
                                                  export_model)
    from llava_detseg.registry import MODELS
    from llava_detseg.utils import register_all_modules, save_checkpoint_file

    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            print(f'error: {path} does not exist', file=sys.stderr)
            return 2
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('adapters') is None:
        print(f'{args.config} has no model.adapters: nothing to merge, '
              'exporting the model as it is')
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    # the teacher of distillation is not needed to merge
    cfg.model.distiller = None
    model = MODELS.build(cfg.model)
    try:
        ckpt = load_checkpoint(model, args.checkpoint, map_location='cpu',
                               strict=True)
    except Exception as e:  # noqa: BLE001 - not a checkpoint of this config
        why = ' '.join(str(e).split())[:500]
        print(f'error: cannot load {args.checkpoint} into {args.config}: '
              f'{type(e).__name__}: {why}', file=sys.stderr)
        return 2
    model.eval()
    merge_adapters(model)
    if not args.no_hf:
        try:  # before anything is written
            check_exportable(model, cfg)
        except ExportError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
    os.makedirs(args.out_dir, exist_ok=True)
    meta = dict(ckpt.get('meta', {}), merged_from=args.checkpoint)
    save_checkpoint_file(dict(meta=meta, state_dict=model.state_dict()),
                         osp.join(args.out_dir, 'merged.pth'))
    cfg.model.adapters = None
    cfg.load_from = osp.join(args.out_dir, 'merged.pth')
    cfg.dump(osp.join(args.out_dir, 'merged_config.py'))
    print(f'merged checkpoint: {osp.join(args.out_dir, "merged.pth")}')
    if not args.no_hf:
        folder = export_model(model, cfg, osp.join(args.out_dir, 'hf'))
        print(f'hugging face folder: {folder}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
