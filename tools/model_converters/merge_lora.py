"""Merge LoRA / Conv-LoRA adapters into the base weights and export.

Writes into ``--out-dir``:

* ``merged.pth``: an MMEngine checkpoint of the merged model, loadable by the
  same config without ``model.adapters`` (``merged_config.py``, also
  written), e.g. ``tools/test.py merged_config.py merged.pth``;
* ``hf/``: a Hugging Face ``LlavaForConditionalGeneration`` folder (merged
  language model and projector, the merged CLIP backbone as its vision tower
  when the architectures match, and the tokenizer), loadable with
  ``from_pretrained`` and usable as ``language.pretrained``.

The merged model gives the unmerged one's outputs up to float rounding
(tests/tools/test_merge_lora.py checks 1e-5 relative in float32).

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
    parser.add_argument('config', help='config with model.adapters')
    parser.add_argument('checkpoint', help='checkpoint with the adapters')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--no-hf', action='store_true',
                        help='skip the Hugging Face folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def export_hf(model, out_dir: str) -> str:
    """Save the (merged) language branch as a llava-hf folder."""
    llava = model.language.llava
    vit = model.backbone.vit
    vc = llava.config.vision_config
    same = all(
        getattr(vit.config, k) == getattr(vc, k)
        for k in ('hidden_size', 'num_hidden_layers', 'patch_size',
                  'image_size', 'intermediate_size'))
    folder = osp.join(out_dir, 'hf')
    # LLaVA's own vision tower is dropped at load (the backbone replaces it);
    # put the merged backbone back so the folder is a complete LLaVA.
    llava.model.vision_tower = vit if same else None
    try:
        llava.save_pretrained(folder)
    finally:
        llava.model.vision_tower = None
    model.language.tokenizer.save_pretrained(folder)
    if not same:
        print('warning: the backbone differs from the LLaVA vision config; '
              'hf/ holds no vision tower weights', file=sys.stderr)
    return folder


def main() -> int:
    args = parse_args()
    ensure_package()
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from llava_detseg.models.adapters import merge_adapters
    from llava_detseg.registry import MODELS
    from llava_detseg.utils import register_all_modules

    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            print(f'error: {path} does not exist', file=sys.stderr)
            return 2
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('adapters') is None:
        print(f'error: {args.config} has no model.adapters to merge',
              file=sys.stderr)
        return 2
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    # the teacher of distillation is not needed to merge
    cfg.model.distiller = None
    model = MODELS.build(cfg.model)
    ckpt = load_checkpoint(model, args.checkpoint, map_location='cpu',
                           strict=True)
    model.eval()
    merge_adapters(model)
    os.makedirs(args.out_dir, exist_ok=True)
    meta = dict(ckpt.get('meta', {}), merged_from=args.checkpoint)
    torch.save(dict(meta=meta, state_dict=model.state_dict()),
               osp.join(args.out_dir, 'merged.pth'))
    cfg.model.adapters = None
    cfg.load_from = osp.join(args.out_dir, 'merged.pth')
    cfg.dump(osp.join(args.out_dir, 'merged_config.py'))
    print(f'merged checkpoint: {osp.join(args.out_dir, "merged.pth")}')
    if not args.no_hf and getattr(model, 'language', None) is not None:
        print(f'hugging face folder: {export_hf(model, args.out_dir)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
