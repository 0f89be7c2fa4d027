"""cleantake: remove transient interference (coughs, door slams, creaks, screams, drops) from music.

Implements semi-supervised NMF + Kernel Additive Modelling (Fano Yela et al., ICASSP 2017).
"""

from .errors import (AudioReadError, AudioWriteError, CleantakeError, DictionaryError, MissingDependencyError,
                     ParameterError)
from .files import FileResult, clean_file, learn_like_file, locate_file
from .like import LikeModel, LikeParams, load_like_model, merge_like_models, save_like_model
from .locate import Event
from .pipeline import METHODS, CleanResult, Cleaner, Settings, clean

__version__ = "0.1.0"

__all__ = [
    "clean",
    "clean_file",
    "locate_file",
    "learn_like_file",
    "save_like_model",
    "load_like_model",
    "merge_like_models",
    "FileResult",
    "Cleaner",
    "CleanResult",
    "Settings",
    "Event",
    "LikeModel",
    "LikeParams",
    "METHODS",
    "CleantakeError",
    "ParameterError",
    "AudioReadError",
    "AudioWriteError",
    "DictionaryError",
    "MissingDependencyError",
    "__version__",
]
