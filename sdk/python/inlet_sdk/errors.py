"""Typed errors. Raise one of these from any connector method; the SDK turns it into the
`connector-error` the host expects, with the matching `error-kind`.

Any other exception becomes an `internal` error (a bug in the connector)."""


class ConnectorError(Exception):
    """Base class. `kind` is one of the WIT `error-kind` names."""

    kind = "internal"

    def __init__(self, message="", *, kind=None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def message(self):
        return str(self)


class ConfigError(ConnectorError):
    """The configuration values are missing, malformed or inconsistent."""

    kind = "config"


class AuthError(ConnectorError):
    """The source refused the credentials."""

    kind = "auth"


class NetworkError(ConnectorError):
    """The source could not be reached, or the connection broke (worth a retry later)."""

    kind = "network"


class SourceError(ConnectorError):
    """The source answered, but with something the connector cannot use."""

    kind = "source"


class CancelledError(ConnectorError):
    """The sync was asked to stop."""

    kind = "cancelled"


class InternalError(ConnectorError):
    """A bug or an unexpected state inside the connector."""

    kind = "internal"


ERROR_KINDS = ("config", "auth", "network", "source", "cancelled", "internal")


def describe(exc):
    """(kind, message) for any exception."""
    if isinstance(exc, ConnectorError):
        kind = exc.kind if exc.kind in ERROR_KINDS else "internal"
        return kind, str(exc) or type(exc).__name__
    # Built-in network-ish failures map to `network`, everything else is a bug.
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return "network", f"{type(exc).__name__}: {exc}"
    return "internal", f"{type(exc).__name__}: {exc}"
