"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class NepError(Exception):
    """A user-facing error. ``str(error)`` is the whole message: what is wrong and how to fix it."""

    exit_code = 2


class WeightsNotFinite(NepError):
    """An optimizer step made the model's weights NaN or infinite: the run stops, and its state is not saved
    (a checkpoint of those weights could only be resumed into the same failure)."""


def a_value_of(value: object) -> str:
    """How a message names what was given instead of what was asked for: ``None``, ``a dict``, ``an int``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def error_reason(error: BaseException) -> str:
    """``Type: message``, the message to its first line that does not end in a colon (transformers'
    ``Validation error for field 'hidden_size':`` goes on with the reason on the next line)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    shown = [lines[0]]
    for line in lines[1:]:
        if not shown[-1].endswith(":"):
            break
        shown.append(line)
    return f"{type(error).__name__}: {' '.join(shown)}"


class LogFormatError(NepError):
    """A session log line that cannot be read; the message starts with ``file:line:``."""


class InvalidAction(NepError):
    """Tokens or a payload that do not decode to an action of the domain's action space."""


class PluginError(NepError):
    """A plugin conflict, such as two plugins registering the same domain name."""


class PluginMistake(PluginError):
    """Something a plugin registered is malformed (a class where an instance belongs, a field of the
    wrong type): while the domain table is built it is skipped with a warning, not an error."""


class PluginFault(NepError):
    """A plugin's code failed while a command ran it (its action space, encoder, collector): the CLI
    prints the one line, which names the plugin and the method, and exits with status 1."""

    exit_code = 1


class UnknownDomain(NepError):
    """A domain name that no installed plugin registers."""
