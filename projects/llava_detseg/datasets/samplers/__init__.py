from .mixture_sampler import MixtureSampler

__all__ = ['MixtureSampler']
