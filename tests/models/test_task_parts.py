"""Tasks as parts: det / seg / vqa / cls / itc are registered parts, a task
registered outside the package trains with the others from a config entry,
and bad combinations are refused at build time naming the config keys."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from torch import nn

from conftest import ROOT, tiny_config
from llava_detseg.engine.hooks import RouterStatsHook
from llava_detseg.models.language.conversation import DETACH_IMAGE
from llava_detseg.models.tasks import BaseTask, pool_tokens
from llava_detseg.registry import DATASETS, MODELS, TASKS
from llava_detseg.tasks import known_tasks, task_spec

ROUTER_CONFIG = osp.join(
    ROOT, 'configs',
    'llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py')
CLS_ITC_CONFIG = osp.join(ROOT, 'configs', 'ablations', 'tasks',
                          'shapes-router_cls-itc.py')
ALL_TASKS_CONFIG = osp.join(
    ROOT, 'configs', 'llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_'
    'text-grounded-1perimg_cls-itc.py')


@TASKS.register_module('toy_brightness', force=True)
class ToyBrightnessTask(BaseTask):
    """Regress each image's mean input value from its routed tokens: a task
    the package knows nothing about."""
    branch = 'toy_head'
    instruction = 'How bright is the image?'
    pred_fields = ('pred_brightness', )

    def build_branch(self, model, train_cfg, test_cfg):
        if self.head_cfg is None:
            return None
        return nn.Linear(model.backbone.embed_dims, 1)

    def _predict(self, model, batch):
        tokens, aux = model._routed_tokens(self.name, batch.vit, batch.idx,
                                           batch.samples)
        batch.aux.extend(aux)
        return self.serving_part(model)(pool_tokens(tokens, 'mean'))[:, 0]

    def loss(self, model, batch):
        inputs = model._select([batch.inputs], batch.idx,
                               len(batch.samples))[0]
        return dict(loss_mse=F.mse_loss(self._predict(model, batch),
                                        inputs.mean((1, 2, 3))))

    @torch.no_grad()
    def predict(self, model, batch):
        for sample, value in zip(batch.chosen, self._predict(model, batch)):
            sample.pred_brightness = value.cpu()


def _build(cfg):
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _batch(cfg, split='train_dataloader', n=4, extra_task=None):
    dataset = DATASETS.build(cfg[split].dataset)
    batch = dict(inputs=[], data_samples=[])
    for i in range(n):
        item = dataset[i]
        if extra_task:
            s = item['data_samples']
            s.set_metainfo(dict(tasks=list(s.tasks) + [extra_task]))
        batch['inputs'].append(item['inputs'])
        batch['data_samples'].append(item['data_samples'])
    return batch


def test_registered_parts_describe_their_tasks():
    assert known_tasks()[:5] == ('det', 'seg', 'vqa', 'cls', 'itc')
    assert task_spec('det').levels == 'pyramid'
    assert task_spec('vqa').branch_of('vqa') == 'language'
    assert task_spec('cls').branch_of('cls') == 'cls_head'
    assert 'pred_score' in task_spec('cls').pred_fields
    with pytest.raises(KeyError, match='unknown task "ocr"'):
        task_spec('ocr')


def test_a_task_registered_outside_the_package_trains_with_the_others(
        tiny_ckpt, shapes_root):
    cfg = tiny_config(tiny_ckpt, shapes_root, config=ROUTER_CONFIG)
    cfg.model.tasks = dict(toy_brightness=dict(head=dict()))
    model = _build(cfg)
    assert model.tasks == ('det', 'seg', 'vqa', 'toy_brightness')
    assert model.router.tasks[-1] == 'toy_brightness'
    assert model.router.instructions['toy_brightness'] == \
        'How bright is the image?'
    batch = _batch(cfg, extra_task='toy_brightness')
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    head = model.toy_head.weight.detach().clone()
    expert = model.router.task_experts['toy_brightness'][0].weight
    expert = expert.detach().clone()
    for _ in range(3):
        log = model.train_step(copy.deepcopy(batch), optim)
    assert {'toy_brightness.loss_mse', 'det.loss_cls', 'seg.loss_ce',
            'vqa.loss_lm'} <= set(log)
    assert not torch.equal(head, model.toy_head.weight)
    # its own router path (task expert) trains too
    assert not torch.equal(
        expert, model.router.task_experts['toy_brightness'][0].weight)
    model.eval()
    out = model.test_step(copy.deepcopy(batch))
    assert all(s.pred_brightness.shape == () for s in out)
    assert all('pred_instances' in s for s in out)
    shares = RouterStatsHook.summarize(model)
    assert 'router/toy_brightness/expert0_share' in shares


def test_cls_and_itc_train_and_predict_through_the_router(
        tiny_ckpt, shapes_root):
    cfg = tiny_config(tiny_ckpt, shapes_root, config=CLS_ITC_CONFIG)
    model = _build(cfg)
    assert model.tasks == ('det', 'seg', 'vqa', 'cls', 'itc')
    assert model.router.levels['cls'] == model.router.levels['itc'] == 1
    batch = _batch(cfg)
    assert all({'cls', 'itc'} <= set(s.tasks) for s in batch['data_samples'])
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert {'cls.loss', 'itc.loss_contrastive', 'itc.loss_align',
            'det.loss_cls', 'vqa.loss_lm', 'router.loss_balance'} <= set(
                losses)
    total, _ = model.parse_losses(losses)
    total.backward()
    for part in ('cls_head.fc', 'itc_head.image_proj', 'itc_head.text_proj',
                 'itc_head.logit_scale', 'router.task_experts.cls',
                 'router.task_experts.itc'):
        grads = [p.grad for n, p in model.named_parameters()
                 if n.startswith(part)]
        assert grads and all(g is not None for g in grads), part
    RouterStatsHook.reset(model)
    model.eval()
    out = model.test_step(_batch(cfg, 'val_dataloader', n=3))
    for s in out:
        assert s.pred_score.shape == (3, )
        assert abs(float(s.pred_score.sum()) - 1) < 1e-5
        assert s.pred_image_embed.shape == (128, )
        assert s.pred_text_embeds.shape == (len(s.captions), 128)
    shares = RouterStatsHook.summarize(model)
    for task in ('det', 'seg', 'vqa', 'cls', 'itc'):
        got = [v for k, v in shares.items()
               if k.startswith(f'router/{task}/expert')]
        assert len(got) == 4 and abs(sum(got) - 1) < 1e-5, task


def test_every_task_trains_and_is_scored_without_a_router(
        tiny_ckpt, shapes_root):
    """The all-task embedded default: cls and itc on the backbone's tokens
    (no router), their labels and captions also asked in words, and the
    class question scored by VQAMetric as its own answer type."""
    from llava_detseg.evaluation.metrics import VQAMetric
    cfg = tiny_config(tiny_ckpt, shapes_root, config=ALL_TASKS_CONFIG)
    model = _build(cfg)
    assert model.tasks == ('det', 'seg', 'vqa', 'cls', 'itc')
    assert model.router is None
    batch = _batch(cfg)
    for s in batch['data_samples']:
        # the image's questions as the turns of one conversation; the class
        # and caption turns in another that reads the image detached
        questions, image_level = s.conversations
        assert not questions[0].get(DETACH_IMAGE)
        assert image_level[0][DETACH_IMAGE] is True
        qa = {}
        for turns in (questions, image_level):
            assert sum(t['value'].count('<image>') for t in turns) == 1
            qa.update(zip([t['value'].replace('<image>\n', '')
                           for t in turns[::2]],
                          [t['value'] for t in turns[1::2]]))
        assert qa['Describe the image briefly.'] == s.captions[0]
        assert qa['Which shape covers the most area?'] in (
            'circle', 'square', 'triangle')
        assert any(q.startswith('How many') or q.startswith('Is there')
                   for q in qa)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert {'cls.loss', 'itc.loss_contrastive', 'vqa.loss_lm',
            'det.loss_cls', 'seg.loss_ce'} <= set(losses), sorted(losses)
    model.eval()
    out = model.test_step(_batch(cfg, 'val_dataloader', n=2))
    metric = VQAMetric()
    metric.process({}, out)
    result = metric.compute_metrics(metric.results)
    for s in out:
        assert s.questions[-1] == 'Which shape covers the most area?'
        assert s.question_meta[-1] == dict(answer_type='class')
        assert s.pred_score.shape == (3, )
    assert 'accuracy_class' in result and 'accuracy_number' in result
    n_class = sum(q == 'Which shape covers the most area?'
                  for s in out for q in s.questions)
    assert n_class == 2 and result['num_questions'] == sum(
        len(s.questions) for s in out)


@pytest.mark.parametrize('detach', [False, True])
def test_detach_backbone_keeps_an_image_level_loss_out_of_the_vit(
        tiny_ckpt, shapes_root, detach):
    """detach_backbone: cls / itc train their heads but leave the ViT to
    the other tasks; without it their losses reach the ViT."""
    cfg = tiny_config(tiny_ckpt, shapes_root, config=ALL_TASKS_CONFIG)
    for task in ('cls', 'itc'):
        cfg.model.tasks[task]['detach_backbone'] = detach
    model = _build(cfg)
    data = model.data_preprocessor(_batch(cfg, n=2), training=True)
    losses = model(**data, mode='loss')
    for key, head in (('cls.loss', 'cls_head.'), ('itc.loss_align',
                                                  'itc_head.image_proj')):
        model.zero_grad()
        losses[key].backward(retain_graph=True)
        vit = [p.grad for n, p in model.named_parameters()
               if n.startswith('backbone.') and p.requires_grad]
        reached = any(g is not None and bool(g.abs().sum() > 0) for g in vit)
        assert reached is not detach, key
        own = [p.grad for n, p in model.named_parameters()
               if n.startswith(head)]
        assert own and all(g is not None and bool(g.abs().sum() > 0)
                           for g in own), key


def test_bad_task_combinations_name_the_config_keys(tiny_ckpt, shapes_root):
    cfg = tiny_config(tiny_ckpt, shapes_root, config=CLS_ITC_CONFIG)
    init_default_scope('llava_detseg')
    bad = copy.deepcopy(cfg.model)
    bad.tasks.det = dict(head=dict())
    with pytest.raises(ValueError, match='model.tasks.det: det / seg / vqa'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.tasks.ocr = dict(head=dict())
    with pytest.raises(ValueError, match=r"model.tasks: unknown tasks \['ocr"):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.language = None
    bad.router = None
    bad.tasks.cls = None
    with pytest.raises(ValueError,
                       match='model.tasks.itc needs model.language'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.router.tasks = ['det', 'seg', 'vqa', 'itc']
    with pytest.raises(ValueError, match=r'model.tasks.cls: the task is not '
                       r'in model.router.tasks'):
        MODELS.build(bad)
