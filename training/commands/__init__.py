"""The write-up's pipeline as subcommands of ``python -m training``: ``split``, ``info``,
``train``, ``evaluate``, ``export`` and ``all`` (the four in one go).

Each is a module with ``add_arguments(parser)`` and ``main(args) -> int``, like every other
subcommand (``training.cli.SUBCOMMANDS``); its docstring is its ``--help`` text. What they share
(dataset names, loading the lists, checking ``--out``) is ``common``.
"""
