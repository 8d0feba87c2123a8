"""The shipped models, installed as the package ``fer_edge_models`` (see pyproject.toml); ``edge.core.rundir`` finds them."""
