"""The one exception the app and the CLI show to a user verbatim, and the guard that turns decoder errors into it."""

from collections.abc import Iterator
from contextlib import contextmanager


class InputError(ValueError):
    """An input the app cannot analyse; the message is one sentence: what is wrong and what is accepted."""


@contextmanager
def decoding(name: str, label: str, accepted: str) -> Iterator[None]:
    """Turn a decoder's own exception into one InputError sentence, keeping the original as its cause.

    Pillow, pydicom, nibabel, h5py and zipfile raise many exception types on malformed bytes (OSError, ValueError,
    struct.error, EOFError, KeyError, ...); users get the same sentence for all of them, naming ``accepted``.
    """
    try:
        yield
    except InputError:
        raise
    except Exception as err:
        raise InputError(
            f"{name} could not be decoded as {label}, as it is truncated or corrupt; please upload {accepted}."
        ) from err
