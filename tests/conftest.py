"""Shared test configuration: the deterministic hypothesis profile the property tests run under."""

try:
    from hypothesis import settings
except ImportError:  # the property tests skip themselves without hypothesis
    settings = None

if settings is not None:
    # derandomize: the same examples on every run and machine, so CI never flakes; no database,
    # so nothing is written into the repository; no deadline, since a 2-core CI box is slow.
    settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                              max_examples=100, print_blob=True)
    settings.load_profile("ci")

# The PyTorch-style scripts are run by tests/test_torch_scripts.py, never imported by
# --doctest-modules (importing one would run it).
collect_ignore_glob = ["torch_scripts/*"]


def pytest_configure(config):
    # NOTE: when it reports a failing example, hypothesis inspects type hints and touches the
    # deprecated mypy_extensions.TypedDict; with filterwarnings=error that turned the report
    # into an INTERNALERROR that hid the failure.
    config.addinivalue_line("filterwarnings",
                            "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
