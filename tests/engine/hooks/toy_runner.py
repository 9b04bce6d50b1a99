"""A one-layer model on an MMEngine ``Runner``: hooks meet a real training
loop, optimizer and checkpoints in about a second."""
import itertools

import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

_names = itertools.count()


class ToyDataset(Dataset):

    def __init__(self, n: int = 8):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 2, generator=gen)
        self.y = torch.randn(n, 1, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], data_samples=self.y[i])


class _InfGrad(torch.autograd.Function):
    """Identity forward, infinite backward: a finite loss, an inf grad."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float('inf')


class ToyModel(BaseModel):
    """``loss = mean((wx + b - y)^2)``; ``fault`` poisons one iteration:
    ``'nan_loss'`` (the loss), ``'inf_grad'`` (the gradient only)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.fault = None

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(x)
        if mode != 'loss':
            return out
        if self.fault == 'inf_grad':
            out = _InfGrad.apply(out)
        y = torch.stack(data_samples)
        loss = (out - y).pow(2).mean()
        if self.fault == 'nan_loss':
            loss = loss * float('nan')
        return dict(loss=loss)


class FaultAt(Hook):
    """Set ``model.fault`` for the (1-based, global) iterations listed."""

    priority = 'VERY_HIGH'

    def __init__(self, fault: str, iters):
        self.fault, self.iters = fault, set(iters)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        model.fault = self.fault if runner.iter + 1 in self.iters else None


class ToyMetric(BaseMetric):
    """A score that grows every validation (each one is the best)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        self.calls += 1
        return dict(score=float(self.calls))


def toy_runner(work_dir: str, max_epochs: int = 2, custom_hooks=(),
               checkpoint=None, resume: bool = False,
               validate: bool = False) -> Runner:
    """4 iterations an epoch, SGD, the given hooks; ``validate``: a
    validation (``ToyMetric``) after every epoch."""
    ckpt = checkpoint or dict(type='SafeCheckpointHook', interval=1)
    val = {}
    if validate:
        val = dict(
            val_dataloader=dict(
                dataset=ToyDataset(2),
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate'),
                batch_size=2, num_workers=0),
            val_evaluator=[ToyMetric()], val_cfg=dict())
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{next(_names)}',
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs,
                       val_interval=1),
        default_hooks=dict(checkpoint=ckpt, logger=dict(
            type='LoggerHook', interval=1)),
        custom_hooks=list(custom_hooks),
        default_scope='llava_detseg',
        resume=resume,
        randomness=dict(seed=0),
        **val)
