"""The tasks a sample can ask for; datasets, model, router and metrics share
them.

A task is a registered part (``registry.TASKS``, the classes in
``models/tasks``): its name is its registry key, and its class says which
model part serves it, how the router feeds it, what it predicts and which
dataset meta keys it owns. The readers below look a task up by name, so a
task registered outside the package (``@TASKS.register_module('toy')``) is
known everywhere without an edit here.
"""
from typing import Sequence, Tuple, Type

# The tasks of the original model, in their order; the default of the parts
# that serve "every task" unless a config names others.
TASKS = ('det', 'seg', 'vqa')


def _registry():
    from llava_detseg.registry import TASKS as TASK_REGISTRY
    # the classes live in llava_detseg.models.tasks; a bare name lookup does
    # not import them, so do it here once
    TASK_REGISTRY.import_from_location()
    return TASK_REGISTRY


def known_tasks() -> Tuple[str, ...]:
    """Every registered task name, in registration order."""
    return tuple(_registry().module_dict)


def task_spec(name: str) -> Type:
    """The registered class of task ``name`` (its class attributes are the
    task's description: ``branch``, ``levels``, ``meta_keys``...)."""
    cls = _registry().module_dict.get(name)
    if cls is None:
        raise KeyError(f'unknown task "{name}"; registered tasks are '
                       f'{known_tasks()}')
    return cls


def check_tasks(tasks: Sequence[str], where: str) -> None:
    """Raise one line naming ``where`` (a config key) for unknown tasks."""
    unknown = sorted(set(tasks) - set(known_tasks()))
    if unknown:
        raise ValueError(f'{where}: unknown tasks {unknown}; registered '
                         f'tasks are {known_tasks()}')
