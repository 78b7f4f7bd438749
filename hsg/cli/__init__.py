"""The command-line programs: each module's ``main`` is a console command (``hsg-train``, ``hsg-eval``, ...) and
the script of the same name in ``pyenv/``. Arguments are parsed and checked before anything heavy (torch)
is imported, so ``--help`` and argument errors answer at once."""
