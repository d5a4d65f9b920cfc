"""The plugin's settings, kept in Krita's configuration (group ``nep_suggest``).

``load(read)`` and ``save(settings, write)`` take Krita's ``readSetting``/``writeSetting`` (or any
functions shaped like them), so the rules here run outside Krita too. Bad stored values fall back
to the defaults; nothing here raises. With no token stored, the token is ``$NEP_SERVER_TOKEN``,
which is never stored: a token equal to it is saved as none (a secret from the environment stays out
of Krita's configuration file).
"""

import os

from .client import port_option

GROUP = "nep_suggest"
TOKEN_VARIABLE = "NEP_SERVER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8765"
START_COMMAND = "nep serve --domain krita --model repeat-last"
"""The server to start when none answers: it shows a stroke from the first one painted, with no training
(it suggests the last action again). docs/domains/krita.md recommends a trained model for real use."""


def start_command(url):
    """``START_COMMAND`` for a server at ``url``: with ``--port N`` when its port is not ``nep serve``'s default (a
    URL that is not ``http://host:port``, the command as it is)."""
    try:
        return START_COMMAND + port_option(url)
    except ValueError:
        return START_COMMAND


def default_log_folder():
    """``$NEP_HOME/logs/krita``, default ``~/.cache/nep/logs/krita``."""
    home = os.environ.get("NEP_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "nep")
    return os.path.join(home, "logs", "krita")


class Settings:
    """What the painter can set in the docker's Settings dialog."""

    def __init__(self, server_url=DEFAULT_URL, token="", enabled=True, record=True, min_confidence=0.1, log_folder="",
                 min_stroke_probability=0.0):
        self.server_url = server_url
        self.token = token
        self.enabled = enabled
        self.record = record
        self.min_confidence = min_confidence
        self.log_folder = log_folder
        self.min_stroke_probability = min_stroke_probability  # hide a suggestion less likely than this (0: off)

    def logs(self):
        """The folder session logs go to."""
        return os.path.expanduser(self.log_folder) if self.log_folder.strip() else default_log_folder()

    def __eq__(self, other):
        return isinstance(other, Settings) and vars(self) == vars(other)


def _flag(text, default):
    return {"true": True, "false": False}.get(str(text).strip().lower(), default)


def _fraction(text, default):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return default
    return value if 0.0 <= value <= 1.0 else default


def load(read):
    """The stored settings; ``read(group, name, default)`` returns a string."""
    default = Settings()
    token = read(GROUP, "token", "") or os.environ.get(TOKEN_VARIABLE, "")
    return Settings(
        server_url=read(GROUP, "server_url", default.server_url) or default.server_url,
        token=token,
        enabled=_flag(read(GROUP, "enabled", "true"), True),
        record=_flag(read(GROUP, "record", "true"), True),
        min_confidence=_fraction(read(GROUP, "min_confidence", str(default.min_confidence)), default.min_confidence),
        log_folder=read(GROUP, "log_folder", "") or "",
        min_stroke_probability=_fraction(read(GROUP, "min_stroke_probability", "0.0"), default.min_stroke_probability),
    )


def save(settings, write):
    """Store the settings; ``write(group, name, value)`` takes strings."""
    write(GROUP, "server_url", settings.server_url)
    write(GROUP, "token", "" if settings.token == os.environ.get(TOKEN_VARIABLE) else settings.token)
    write(GROUP, "enabled", "true" if settings.enabled else "false")
    write(GROUP, "record", "true" if settings.record else "false")
    write(GROUP, "min_confidence", repr(float(settings.min_confidence)))
    write(GROUP, "log_folder", settings.log_folder)
    write(GROUP, "min_stroke_probability", repr(float(settings.min_stroke_probability)))
