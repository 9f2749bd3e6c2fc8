"""The always-on service: its configuration (:mod:`.config`); the process that follows the markets and
evaluates the alerts builds on it."""
