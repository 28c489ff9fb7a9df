"""The one exception the app and the CLI show to a user verbatim."""


class InputError(ValueError):
    """An input the app cannot analyse; the message is one sentence: what is wrong and what is accepted."""
