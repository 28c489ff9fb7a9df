"""The command line (``python -m core``, see :mod:`core.__main__`) and the batch engines behind it.

- :mod:`core.cli.batch`: files and folders to one result record each, on this process;
- :mod:`core.cli.batch_ray`: the same records from a pool of Ray actors;
- :mod:`core.cli.batch_run`: either engine, records written as they finish (resumable);
- :mod:`core.cli.predict`: ``python -m core predict``; :mod:`core.cli.report`: ``python -m core report``.

May import every layer (:mod:`core.io` to :mod:`core.report`), never :mod:`core.app`.
"""
