"""Shared fixtures: tiny checkpoints, a small generated shapes set, configs."""
import glob
import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(
    ROOT, 'configs', 'llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py')
# every runnable config (the _base_ pieces are not), repository-relative
CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p)
try:
    import llava_detseg  # noqa: F401
except ImportError:  # not pip-installed: use the source tree
    sys.path.insert(0, osp.join(ROOT, 'projects'))


@pytest.fixture(scope='session')
def tiny_ckpt(tmp_path_factory) -> dict:
    """``{'clip': folder, 'llava': folder}`` written once per session."""
    from llava_detseg.models.language import write_tiny_checkpoints
    return write_tiny_checkpoints(str(tmp_path_factory.mktemp('ckpt')))


@pytest.fixture(scope='session')
def tiny_ckpt_llama(tiny_ckpt) -> dict:
    """``tiny_ckpt``'s CLIP and a tiny LLaVA whose tokenizer is a
    SentencePiece LLaMA one in Vicuna's layout (no pad, no image token)."""
    from llava_detseg.models.language import write_tiny_checkpoints
    return write_tiny_checkpoints(os.path.dirname(tiny_ckpt['llava']),
                                  tokenizer='llama')


@pytest.fixture(scope='session')
def llama_tokenizer_dirs(tmp_path_factory) -> dict:
    """SentencePiece (LLaMA-family) tokenizer folders in Vicuna's layout:
    ``{'vicuna': folder, 'legacy': folder}`` (``legacy`` False / True)."""
    from llava_detseg.models.language import write_llama_tokenizer
    root = tmp_path_factory.mktemp('llama_tokenizer')
    return {
        name: write_llama_tokenizer(str(root / name), legacy=legacy)
        for name, legacy in (('vicuna', False), ('legacy', True))
    }


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory) -> str:
    """A small generated shapes dataset (16 train / 8 val images)."""
    from llava_detseg.datasets.generation import generate_shapes
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes(root, num_train=16, num_val=8, seed=0, progress=False)
    return root


def tiny_config(ckpt: dict, data_root: str, work_dir: str = None,
                config: str = TINY_CONFIG):
    """The embedded default config (or ``config``, one of its children)
    pointed at test folders, small and fast."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    root = data_root.rstrip('/') + '/'
    cfg.model.backbone.pretrained = ckpt['clip']
    cfg.model.language.pretrained = ckpt['llava']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].batch_size = 4
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        evaluator[0].metric.ann_file = root + 'annotations/instances_val.json'
        for metric in evaluator[1:]:
            if 'det_metric' in metric:  # TextDetSegMetric's CocoMetric
                metric.det_metric.ann_file = \
                    root + 'annotations/instances_val.json'
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization.interval = 4
    if work_dir is not None:
        cfg.work_dir = work_dir
    return cfg


@pytest.fixture
def cfg(tiny_ckpt, shapes_root, tmp_path):
    """The tiny config on the session's data, with its own work dir."""
    return tiny_config(tiny_ckpt, shapes_root, str(tmp_path / 'work'))


TEXT_CONFIG = osp.join(
    ROOT, 'configs',
    'llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py')


@pytest.fixture(scope='session')
def text_model(tiny_ckpt, shapes_root, tmp_path_factory) -> dict:
    """A tiny random model that answers in <DET>/<SEG> text, saved as a
    config + an MMEngine checkpoint: ``{'config': path, 'checkpoint':
    path}`` (the inferencer and the demos load it as users load theirs)."""
    from llava_detseg.utils import register_all_modules
    register_all_modules()
    text = tiny_config(tiny_ckpt, shapes_root, config=TEXT_CONFIG)
    # a random FCOS scores about 0.01 everywhere: keep its boxes, so that
    # grounded contexts (and the answers copying them) are not empty
    text.model.test_cfg.det.score_thr = 0.0
    text.model.text_cfg.context_score_thr = 0.0
    for evaluator in (text.val_evaluator, text.test_evaluator):
        for metric in evaluator:  # scores the boxes the context offered
            if metric.get('type') == 'TextDetSegMetric':
                metric.head_score_thr = 0.0
    root = tmp_path_factory.mktemp('text_model')
    config = str(root / 'text_model.py')
    text.dump(config)
    checkpoint = random_checkpoint(text.model, str(root / 'text_model.pth'))
    return dict(config=config, checkpoint=checkpoint)


def random_checkpoint(model_cfg, path: str, seed: int = 0) -> str:
    """Build ``model_cfg`` with random weights (seeded) and save it as an
    MMEngine checkpoint at ``path``."""
    import torch
    from mmengine.registry import init_default_scope

    from llava_detseg.registry import MODELS
    from llava_detseg.utils import register_all_modules
    register_all_modules()
    init_default_scope('llava_detseg')
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture(scope='module', params=['tiny_ckpt', 'tiny_ckpt_llama'])
def checkpoint_tokenizer(request):
    """The tokenizers of both tiny checkpoints with the text format's
    tokens: the byte-level BPE and a SentencePiece LLaMA one (Vicuna's)."""
    from transformers import AutoTokenizer

    from llava_detseg.models.language.special_tokens import \
        add_detseg_tokens
    tok = AutoTokenizer.from_pretrained(
        request.getfixturevalue(request.param)['llava'])
    add_detseg_tokens(tok)
    return tok


@pytest.fixture(scope='module')
def tokenizer():
    """The tiny BPE tokenizer with the text format's tokens (language tests)."""
    from llava_detseg.models.language import build_tiny_tokenizer
    return build_tiny_tokenizer(detseg_tokens=True)
