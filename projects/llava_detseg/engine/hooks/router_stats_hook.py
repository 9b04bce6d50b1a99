"""Routing statistics: gates, expert usage, selected layers, heat maps."""
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from llava_detseg.registry import HOOKS


def _share_kl(share: torch.Tensor) -> float:
    """KL(share || uniform) of an expert-usage share vector."""
    e = share.numel()
    s = share.clamp_min(1e-12)
    return float((share * (s * e).log()).sum())


@HOOKS.register_module()
class RouterStatsHook(Hook):
    """Log what the router decides, per task, and draw it at validation.

    Reads the running sums that ``GatedFeatureRouter`` (``router.stats``)
    and a routed projector (``usage``) keep, and reports per task (every
    task of ``router.tasks``, cls and itc included) the mean
    gate of each tapped layer, each pool expert's share of the tokens, the
    histogram of layers the layer selector picked, and the KL of the expert
    shares to uniform (what the balance loss pushes down; the balance and
    z-loss values themselves are in the loss dict as ``router.loss_*``).
    Training statistics go to the message hub every ``interval`` iterations
    (so the logger prints them and the vis backends store them);
    validation (and test) statistics go to the logger and
    ``visualizer.add_scalars``, and heat maps to ``<work_dir>/<out_dir>/``
    as PNGs.

    Args:
        interval (int): Training iterations between logs.
        out_dir (str): Folder under the work dir for the PNGs.
        draw (bool): Write the heat-map PNGs.
    """
    priority = 'NORMAL'

    def __init__(self, interval: int = 50, out_dir: str = 'router_stats',
                 draw: bool = True) -> None:
        self.interval = interval
        self.out_dir = out_dir
        self.draw = draw

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    @staticmethod
    def summarize(model) -> Dict[str, float]:
        """Scalars of the routing since the last reset (a flat dict)."""
        out: Dict[str, float] = {}
        router = getattr(model, 'router', None)
        if router is not None:
            st = router.stats
            layers = router.in_layers
            pooled = None
            for task in router.tasks:
                gate = st.mean(f'layer_gate/{task}')
                if gate is not None:
                    for j, layer in enumerate(layers):
                        out[f'router/{task}/gate_L{layer}'] = float(
                            gate[:, j].mean())
                usage = st.sums.get(f'expert_usage/{task}')
                if usage is not None and usage.sum() > 0:
                    pooled = usage if pooled is None else pooled + usage
                    share = usage / usage.sum()
                    for e, v in enumerate(share.tolist()):
                        out[f'router/{task}/expert{e}_share'] = v
            if pooled is not None:
                share = pooled / pooled.sum()
                for e, v in enumerate(share.tolist()):
                    out[f'router/expert{e}_share'] = v
                out['router/usage_kl'] = _share_kl(share)
            sel = st.mean('selected_layer')
            if sel is not None:
                for j, layer in enumerate(layers):
                    out[f'router/selected_L{layer}'] = float(sel[j])
        lang = getattr(model, 'language', None)
        usage = getattr(getattr(lang, 'projector', None), 'usage', None)
        if usage is not None and usage.sum() > 0:
            share = usage / usage.sum()
            for e, v in enumerate(share.tolist()):
                out[f'projector/expert{e}_share'] = v
            out['projector/usage_kl'] = _share_kl(share)
        return out

    @staticmethod
    def reset(model) -> None:
        """Start new running sums."""
        router = getattr(model, 'router', None)
        if router is not None:
            router.stats.reset()
        proj = getattr(getattr(model, 'language', None), 'projector', None)
        if getattr(proj, 'usage', None) is not None:
            proj.usage = None

    def before_train(self, runner) -> None:
        self.reset(self._model(runner))

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = self._model(runner)
        for key, value in self.summarize(model).items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        self.reset(model)

    def before_val_epoch(self, runner) -> None:
        self.reset(self._model(runner))

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        self._report(runner, 'val', f'epoch_{runner.epoch}')

    def before_test_epoch(self, runner) -> None:
        self.reset(self._model(runner))

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        """As after a validation (``tools/test.py`` reports the routing of
        the test set too): ``test/`` scalars and ``test.png``."""
        self._report(runner, 'test', 'test')

    def _report(self, runner, split: str, name: str) -> None:
        model = self._model(runner)
        scalars = self.summarize(model)
        if scalars:
            runner.logger.info(f'routing statistics ({split}): ' + ', '.join(
                f'{k}: {v:.4f}' for k, v in scalars.items()))
            runner.visualizer.add_scalars(
                {f'{split}/{k}': v for k, v in scalars.items()},
                step=runner.epoch)
        if self.draw and getattr(model, 'router', None) is not None:
            path = self.draw_heatmaps(
                model, osp.join(runner.work_dir, self.out_dir), name)
            if path:
                runner.logger.info(f'routing heat maps written to {path}')
        self.reset(model)

    @staticmethod
    def draw_heatmaps(model, out_dir: str, name: str) -> Optional[str]:
        """One PNG: per task the (level x layer) gates, the (task x expert)
        shares and the selected-layer histogram. Returns its path."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        from mmengine.utils import mkdir_or_exist

        router = model.router
        st = router.stats
        gates = [(t, st.mean(f'layer_gate/{t}')) for t in router.tasks]
        gates = [(t, g) for t, g in gates if g is not None]
        usage = [(t, st.sums.get(f'expert_usage/{t}'))
                 for t in router.tasks]
        usage = [(t, u / u.sum()) for t, u in usage
                 if u is not None and u.sum() > 0]
        sel = st.mean('selected_layer')
        panels = len(gates) + bool(usage) + (sel is not None)
        if not panels:
            return None
        fig, axes = plt.subplots(
            1, panels, figsize=(3.2 * panels, 3.0), squeeze=False)
        axes = list(axes[0])
        labels = [f'L{i}' for i in router.in_layers]
        for ax, (task, gate) in zip(axes, gates):
            im = ax.imshow(gate.numpy(), vmin=0, vmax=1, cmap='viridis',
                           aspect='auto')
            ax.set_title(f'{task}: layer gates')
            ax.set_xticks(range(len(labels)), labels)
            ax.set_yticks(range(gate.shape[0]),
                          [f'level {i}' for i in range(gate.shape[0])])
            for (r, c), v in np.ndenumerate(gate.numpy()):
                ax.text(c, r, f'{v:.2f}', ha='center', va='center',
                        color='w', fontsize=7)
            fig.colorbar(im, ax=ax, fraction=0.046)
        k = len(gates)
        if usage:
            ax = axes[k]
            mat = torch.stack([u for _, u in usage]).numpy()
            im = ax.imshow(mat, vmin=0, cmap='magma', aspect='auto')
            ax.set_title('pool expert share')
            ax.set_xticks(range(mat.shape[1]),
                          [f'E{e}' for e in range(mat.shape[1])])
            ax.set_yticks(range(len(usage)), [t for t, _ in usage])
            for (r, c), v in np.ndenumerate(mat):
                ax.text(c, r, f'{v:.2f}', ha='center', va='center',
                        color='c', fontsize=7)
            fig.colorbar(im, ax=ax, fraction=0.046)
            k += 1
        if sel is not None:
            ax = axes[k]
            ax.bar(range(len(labels)), sel.numpy())
            ax.set_xticks(range(len(labels)), labels)
            ax.set_ylim(0, 1)
            ax.set_title('vqa: selected layer')
        fig.tight_layout()
        mkdir_or_exist(out_dir)
        path = osp.join(out_dir, f'{name}.png')
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path
