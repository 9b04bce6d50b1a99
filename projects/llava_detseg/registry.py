"""Registries of the ``llava_detseg`` scope.

Every registry is a child of MMEngine's root registry of the same kind, so a
config with ``default_scope='llava_detseg'`` finds this project's modules by
plain name and mmdet / mmseg modules by scope prefix (``mmdet.FCOSHead``,
``mmseg.FCNHead``, ``mmdet.CocoMetric``). ``locations`` makes the registry
import the package that fills it on first use, so tools need no
``custom_imports``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'llava_detseg'

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, locations=['llava_detseg.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    locations=['llava_detseg.models'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['llava_detseg.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMENGINE_DATA_SAMPLERS,
    locations=['llava_detseg.datasets'])
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    locations=['llava_detseg.datasets.transforms'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, locations=['llava_detseg.evaluation'])
EVALUATOR = Registry(
    'evaluator',
    parent=MMENGINE_EVALUATOR,
    locations=['llava_detseg.evaluation'])
FUNCTIONS = Registry(
    'function',
    parent=MMENGINE_FUNCTIONS,
    locations=['llava_detseg.datasets'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, locations=['llava_detseg.engine'])
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, locations=['llava_detseg.engine'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['llava_detseg.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    locations=['llava_detseg.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['llava_detseg.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    locations=['llava_detseg.engine'])
STRATEGIES = Registry(
    'strategy', parent=MMENGINE_STRATEGIES, locations=['llava_detseg.engine'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMENGINE_VISBACKENDS,
    locations=['llava_detseg.visualization'])
VISUALIZERS = Registry(
    'visualizer',
    parent=MMENGINE_VISUALIZERS,
    locations=['llava_detseg.visualization'])
# Weight initialisers come from mmengine; the child lets lookups start here.
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    locations=['llava_detseg.models'])
# Tasks as parts (``models/tasks``): a task's name, the model part serving
# it, its loss and its predictions; ``llava_detseg.tasks`` reads it.
TASKS = Registry('task', locations=['llava_detseg.models.tasks'])
