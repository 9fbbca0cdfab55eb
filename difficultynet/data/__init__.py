"""Torch data pipeline: decoded uint8 tensor cache, on-device augmentation, seeded batch iterators."""

from difficultynet.data.augment import CIFAR_PADDING, augment, channel_stats, crop_flip, normalize
from difficultynet.data.batches import EpochBatches, MetaBatches, batch_indices, derive_seed, seeded_generator
from difficultynet.data.cache import decode_image, decode_images, load_images
from difficultynet.data.splits import TensorSplits, load_splits

__all__ = [
    "CIFAR_PADDING",
    "EpochBatches",
    "MetaBatches",
    "TensorSplits",
    "augment",
    "batch_indices",
    "channel_stats",
    "crop_flip",
    "decode_image",
    "decode_images",
    "derive_seed",
    "load_images",
    "load_splits",
    "normalize",
    "seeded_generator",
]
