"""Linear probe: can an instance attribute be read from what the language
model sees under the instance's box?

For every annotated instance of a COCO-format split whose annotations carry
``--attribute`` (the shapes generator writes ``color``), this pools a
feature under the annotated box and fits a multinomial logistic regression
on the training split's instances, then scores it on the test split's:

* ``tokens``: the language branch's projected image tokens (what the
  language model reads), area-weighted under the box;
* ``vit``: the ViT layers the language branch selects, on the ViT's own
  grid, before the branch pools and projects them;
* ``pixels``: the normalised input pixels under the box (the ceiling).

A probe near 1.0 with VQA answers far below it says that the information is
in the tokens and the language model does not read it; a low probe says the
tokens lose it. Prints a table; ``--out`` writes it as JSON.

Example:
    python tools/analysis_tools/attribute_probe.py CONFIG CKPT \
        --attribute color --train-images 600
"""
import argparse
import json
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import (ensure_package, load_config,  # noqa: E402
                        missing_file)
from mmengine.config import Config, DictAction  # noqa: E402

SOURCES = ('tokens', 'vit', 'pixels')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--attribute', default='color',
                        help='the annotations\' per-instance key to probe')
    parser.add_argument('--train-images', type=int, default=600,
                        help='training-split images to fit on')
    parser.add_argument('--test-images', type=int, default=200,
                        help='test-split images to score on')
    parser.add_argument('--sources', nargs='+', default=list(SOURCES),
                        choices=SOURCES, help='features to probe')
    parser.add_argument('--out', help='write the results as JSON')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (as tools/test.py)')
    return parser.parse_args(argv)


def split_loader(cfg: Config, split: str, num_images: int):
    """The ``split`` ('train' / 'test') dataset read with the test pipeline
    (no augmentation, no text instructions), its first ``num_images``;
    and the COCO API of its annotations."""
    import copy
    from mmengine.dataset import pseudo_collate
    from pycocotools.coco import COCO
    from torch.utils.data import DataLoader, Subset
    from llava_detseg.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    dataset_cfg.pipeline = [
        t for t in cfg.test_dataloader.dataset.pipeline
        if t['type'] != 'GenerateTextInstructions'
    ]
    dataset_cfg.test_mode = True
    dataset_cfg.pop('filter_cfg', None)
    dataset = DATASETS.build(dataset_cfg)
    ann_file = dataset.ann_file
    coco = COCO(ann_file)
    subset = Subset(dataset, range(min(num_images, len(dataset))))
    return DataLoader(subset, batch_size=8, collate_fn=pseudo_collate), \
        coco, ann_file


def box_weights(boxes: 'torch.Tensor', shape: Tuple[int, int], rows: int,
                cols: Optional[int] = None) -> 'torch.Tensor':
    """(K, rows * cols) area weights of xyxy ``boxes`` (input pixels of a
    ``shape`` input) on a grid over it, as the language branch's region
    features pool (``region_features.grid_weights``); rows sum to 1."""
    import torch
    from llava_detseg.models.language.region_features import grid_weights
    h, w = shape
    frac = boxes.float() / torch.tensor([w, h, w, h], dtype=torch.float32)
    return grid_weights(frac[:, :2], frac[:, 2:], rows, cols or rows)


def collect(model, loader, coco, attribute: str, ann_file: str,
            sources: List[str]) -> Tuple[Dict[str, list], List[str]]:
    """Pooled features per source and the attribute of every instance."""
    import torch
    from mmengine.utils import ProgressBar
    from llava_detseg.models.language.vision_tokens import \
        select_feature_layers
    feats: Dict[str, list] = {s: [] for s in sources}
    labels: List[str] = []
    language = model.language
    bar = ProgressBar(len(loader.dataset))
    for batch in loader:
        data = model.data_preprocessor(batch, training=False)
        with torch.no_grad():
            vit = model.backbone(data['inputs'])
            tokens = language.image_tokens(vit.hidden_states)
            layers = select_feature_layers(vit.hidden_states,
                                           language.vision_feature_layer)
        skip = int(language.keep_cls)  # a kept CLS token comes first
        for j, sample in enumerate(data['data_samples']):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=sample.img_id))
            anns = [a for a in anns if not a.get('iscrowd')]
            missing = [a['id'] for a in anns if attribute not in a]
            if missing:
                raise KeyError(f'{ann_file}: annotation {missing[0]} (image '
                               f'{sample.img_id}) has no "{attribute}" key')
            if not anns:
                bar.update()
                continue
            sx, sy = sample.scale_factor
            boxes = torch.tensor([[a['bbox'][0] * sx, a['bbox'][1] * sy,
                                   (a['bbox'][0] + a['bbox'][2]) * sx,
                                   (a['bbox'][1] + a['bbox'][3]) * sy]
                                  for a in anns])
            shape = tuple(data['inputs'].shape[-2:])
            grids = dict(tokens=tokens[j][skip:], vit=layers[j][1:])
            for source in feats:
                if source == 'pixels':  # (C, H, W) -> the (H * W, C) grid
                    grid = data['inputs'][j].flatten(1).T
                    w = box_weights(boxes, shape, *shape)
                else:  # a square token grid
                    grid = grids[source]
                    w = box_weights(boxes, shape,
                                    int(round(grid.shape[0]**0.5)))
                feats[source].append(w @ grid.float())
            labels += [str(a[attribute]) for a in anns]
            bar.update()
    return {k: torch.cat(v) for k, v in feats.items() if v}, labels


def fit_probe(train_x, train_y, test_x, test_y,
              weight_decay: float = 1e-3) -> Tuple[float, float]:
    """Train and test accuracy of an L2-regularised multinomial logistic
    regression (L-BFGS on standardised features)."""
    import torch
    import torch.nn.functional as F
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    linear = torch.nn.Linear(train_x.shape[1], int(train_y.max()) + 1)
    opt = torch.optim.LBFGS(linear.parameters(), max_iter=300)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(train_x), train_y) + \
            weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return ((linear(train_x).argmax(1) == train_y).float().mean().item(),
                (linear(test_x).argmax(1) == test_y).float().mean().item())


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    ensure_package()
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from llava_detseg.registry import MODELS
    if missing_file((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        return 2
    cfg = load_config(args.config, args.cfg_options)
    if cfg.model.get('language') is None:
        print('error: the config has no language branch (model.language)',
              file=sys.stderr)
        return 2
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu',
                    logger='silent')
    model.eval()
    data = {}
    for split, n in (('train', args.train_images),
                     ('test', args.test_images)):
        loader, coco, ann_file = split_loader(cfg, split, n)
        try:
            data[split] = collect(model, loader, coco, args.attribute,
                                  ann_file, args.sources)
        except KeyError as err:
            print(f'error: {err.args[0]}', file=sys.stderr)
            return 2
    names = sorted(set(data['train'][1]) | set(data['test'][1]))
    index = {n: i for i, n in enumerate(names)}
    ys = {s: torch.tensor([index[n] for n in data[s][1]]) for s in data}
    majority = Counter(data['train'][1]).most_common(1)[0][0]
    result = dict(
        attribute=args.attribute, values=names,
        instances=dict(train=len(ys['train']), test=len(ys['test'])),
        majority_baseline=float((ys['test'] == index[majority]).float()
                                .mean()),
        probes={})
    print(f'\n{args.attribute}: {len(names)} values, '
          f'{len(ys["train"])} / {len(ys["test"])} train / test instances; '
          f'majority baseline {result["majority_baseline"]:.3f}')
    print(f'{"source":<8} {"dims":>5} {"train":>6} {"test":>6}')
    for source in args.sources:
        tr, te = fit_probe(data['train'][0][source], ys['train'],
                           data['test'][0][source], ys['test'])
        dims = int(data['train'][0][source].shape[1])
        result['probes'][source] = dict(dims=dims, train=tr, test=te)
        print(f'{source:<8} {dims:>5} {tr:>6.3f} {te:>6.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
