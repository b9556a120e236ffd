"""The pull-request bot: ``migmerge report`` and posting it to forges."""
