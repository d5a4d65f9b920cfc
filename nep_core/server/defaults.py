"""The server's default request limits, import-light so that the CLI can show them without FastAPI."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_HISTORY_EVENTS = 4096
DEFAULT_MAX_JSON_DEPTH = 32
