import os.path as osp
from unittest.mock import MagicMock

import torch
from torch import nn

from llava_detseg.engine.hooks import RouterStatsHook
from llava_detseg.models.language import MoEProjector
from llava_detseg.models.routers import AdaptiveLayerSelector, \
    GatedFeatureRouter


class _Model(nn.Module):

    def __init__(self):
        super().__init__()
        self.router = GatedFeatureRouter(
            in_channels=8, in_layers=(1, 2), num_levels=2,
            instruction_dims=0, num_experts=3, top_k=1)
        self.language = nn.Module()
        self.language.projector = MoEProjector(8, 8, num_experts=2, top_k=1)

    def run(self):
        hidden = [torch.randn(2, 5, 8) for _ in range(3)]
        for task in ('det', 'seg', 'vqa'):
            tokens, _, _ = self.router(task, hidden)
        self.language.projector(tokens[0])


def _runner(model, work_dir):
    runner = MagicMock()
    runner.model = model
    runner.work_dir = str(work_dir)
    runner.epoch = 3
    runner.iter = 9  # every_n_train_iters(…, 5) is true after iter 9
    return runner


def test_train_statistics_go_to_the_message_hub(tmp_path):
    model = _Model()
    model.run()
    runner = _runner(model, tmp_path)
    RouterStatsHook(interval=5).after_train_iter(runner, 9)
    keys = {c.args[0] for c in runner.message_hub.update_scalar.call_args_list}
    assert {'train/router/det/gate_L1', 'train/router/seg/expert2_share',
            'train/router/usage_kl', 'train/projector/expert1_share'} <= keys
    # shares are shares
    vals = {c.args[0]: c.args[1]
            for c in runner.message_hub.update_scalar.call_args_list}
    assert abs(sum(vals[f'train/router/expert{e}_share']
                   for e in range(3)) - 1) < 1e-6
    # reset after logging
    assert model.router.stats.keys() == [] and model.language.projector.usage \
        is None


def test_validation_writes_heat_maps_and_vis_scalars(tmp_path):
    model = _Model()
    model.router.layer_selector = AdaptiveLayerSelector(8, 0, 2)
    hook = RouterStatsHook()
    runner = _runner(model, tmp_path)
    hook.before_val_epoch(runner)
    model.eval()
    with torch.no_grad():
        model.run()
    hook.after_val_epoch(runner, {})
    png = osp.join(tmp_path, 'router_stats', 'epoch_3.png')
    assert osp.isfile(png) and osp.getsize(png) > 1000
    scalars = runner.visualizer.add_scalars.call_args.args[0]
    assert 'val/router/vqa/gate_L2' in scalars
    assert any(k.startswith('val/router/selected_L') for k in scalars)
    assert runner.logger.info.called


def test_a_test_run_reports_every_task_of_the_router(tmp_path):
    model = _Model()
    model.router = GatedFeatureRouter(
        in_channels=8, in_layers=(1, 2), num_levels=2, instruction_dims=0,
        num_experts=3, top_k=1, tasks=('det', 'seg', 'vqa', 'cls', 'itc'))
    hook = RouterStatsHook()
    runner = _runner(model, tmp_path)
    hook.before_test_epoch(runner)
    model.eval()
    hidden = [torch.randn(2, 5, 8) for _ in range(3)]
    with torch.no_grad():
        for task in model.router.tasks:
            model.router(task, hidden)
    hook.after_test_epoch(runner, {})
    scalars = runner.visualizer.add_scalars.call_args.args[0]
    for task in ('det', 'cls', 'itc'):
        shares = [scalars[f'test/router/{task}/expert{e}_share']
                  for e in range(3)]
        assert abs(sum(shares) - 1) < 1e-6, task
    assert osp.isfile(osp.join(tmp_path, 'router_stats', 'test.png'))
    assert model.router.stats.keys() == []
