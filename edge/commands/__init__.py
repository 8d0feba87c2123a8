"""The ``fer-edge`` command line: the dispatcher (``dispatch``) and edge's own commands (``run``, ``collect``,
``bench``, ``fetch_models``, ``demo_video``). Each command module imports only the standard library at top
level, so ``--help`` works with nothing but the edge extra installed."""
