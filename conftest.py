pytest_plugins = ["tongpin.shared.testing.fixtures"]
