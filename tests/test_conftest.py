"""The shared helpers of tests/conftest.py are the ones pytest loaded, not a second copy."""
import conftest


def test_test_modules_import_the_conftest_pytest_registered(request):
    # A second copy would be a separate module object: its fixtures unregistered, its state
    # (if it ever had any) split from pytest's.  pyproject.toml's pytest options prevent that.
    assert conftest in request.config.pluginmanager.get_plugins()
