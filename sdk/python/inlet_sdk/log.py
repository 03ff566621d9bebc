"""Logging through the host's `log` import. Inside a component the SDK installs `HostLogHandler`
on the root logger, so `logging.getLogger(...)` and `self.logger` just work."""

import logging

_LEVELS = ((logging.ERROR, "error"), (logging.WARNING, "warn"), (logging.INFO, "info"), (logging.DEBUG, "debug"))


def level_name(levelno):
    for threshold, name in _LEVELS:
        if levelno >= threshold:
            return name
    return "trace"


class HostLogHandler(logging.Handler):
    """Sends records to `inlet:connector/log`. Outside a component, prints them."""

    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        try:
            from wit_world.imports import log as wit_log

            self._log = wit_log.log
            self._level = wit_log.Level
        except ImportError:
            self._log = None

    def emit(self, record):
        try:
            msg = self.format(record)
            name = level_name(record.levelno)
            if self._log is None:
                print(f"[{name}] {msg}")
            else:
                self._log(getattr(self._level, name.upper()), msg)
        except Exception:  # never let logging break a sync
            self.handleError(record)


def install(level=logging.INFO):
    root = logging.getLogger()
    if not any(isinstance(h, HostLogHandler) for h in root.handlers):
        root.addHandler(HostLogHandler())
    root.setLevel(level)
