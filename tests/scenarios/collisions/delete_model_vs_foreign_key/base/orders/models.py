"""Models are not read: the scenario is about its migrations."""
