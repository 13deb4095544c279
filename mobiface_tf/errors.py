"""Errors a user can cause, each with its own exit code and a one-line message."""


class MobiFaceError(Exception):
    """Base class: a problem with the user's input, reported as one line, never a traceback.

    Attributes:
        exit_code: the process exit status the command-line tools use for this error.
    """

    exit_code = 1

    def __init__(self, message, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class BadInputError(MobiFaceError):
    """An argument, file or folder that cannot be used as given."""

    exit_code = 2


class ImageReadError(BadInputError):
    """A file that is not a readable image."""

    exit_code = 3


class NoFaceError(MobiFaceError):
    """An image in which the detector found no face."""

    exit_code = 4


class MultipleFacesError(MobiFaceError):
    """An image with several faces where the policy asked for exactly one."""

    exit_code = 5


class ModelLoadError(BadInputError):
    """A model file or run folder that is not a usable face embedding model."""

    exit_code = 6


class DataNotFoundError(BadInputError):
    """The data a job needs is not where it was told to look."""

    exit_code = 7


class TrainingDivergedError(MobiFaceError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 8


class WriteError(MobiFaceError):
    """An output that could not be written (disk full, permission); what was there is unchanged."""

    exit_code = 9


class MissingDependencyError(MobiFaceError):
    """A command needs a library of the `train` extra (TensorFlow, Keras, mtcnn, matplotlib) that is not installed."""

    exit_code = 10
