"""Image-level datasets in their published formats: classification
(CIFAR-10, Fashion-MNIST) and image-caption pairs (Flickr8k)."""
from .base import ImageClassificationDataset, prompt_conversation
from .cifar import CIFAR10_CLASSES, CIFAR10Dataset
from .flickr8k import CAPTION_PROMPT, Flickr8kDataset
from .mnist import FASHION_MNIST_CLASSES, FashionMNISTDataset, read_idx

__all__ = [
    'ImageClassificationDataset', 'prompt_conversation', 'CIFAR10Dataset',
    'CIFAR10_CLASSES', 'FashionMNISTDataset', 'FASHION_MNIST_CLASSES',
    'read_idx', 'Flickr8kDataset', 'CAPTION_PROMPT'
]
