// Typed errors: throw one from any connector method; the SDK turns it into the WIT
// `connector-error` with the matching `error-kind`. Anything else becomes `internal`.
export const ERROR_KINDS = ["config", "auth", "network", "source", "cancelled", "internal"];

export class ConnectorError extends Error {
  constructor(message, kind = "internal") {
    super(message);
    this.name = "ConnectorError";
    this.kind = kind;
  }
}
export class ConfigError extends ConnectorError {
  constructor(message) { super(message, "config"); this.name = "ConfigError"; }
}
export class AuthError extends ConnectorError {
  constructor(message) { super(message, "auth"); this.name = "AuthError"; }
}
export class NetworkError extends ConnectorError {
  constructor(message) { super(message, "network"); this.name = "NetworkError"; }
}
export class SourceError extends ConnectorError {
  constructor(message) { super(message, "source"); this.name = "SourceError"; }
}
export class CancelledError extends ConnectorError {
  constructor(message) { super(message, "cancelled"); this.name = "CancelledError"; }
}

/** { kind, message } for anything thrown. */
export function describe(err) {
  if (err instanceof ConnectorError && ERROR_KINDS.includes(err.kind)) {
    return { kind: err.kind, message: err.message || err.name };
  }
  if (err instanceof Error) return { kind: "internal", message: `${err.name}: ${err.message}` };
  return { kind: "internal", message: String(err) };
}
