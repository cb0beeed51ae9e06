"""The one error type of the command line, and Freqtrade's exit status as ours."""


class CommandError(Exception):
    """Bad input to a ``freqtrade-posmgmt`` command, worded for one line of output."""


def exit_status(exit: SystemExit) -> int:
    """The status a ``SystemExit`` (Freqtrade's, argparse's) ends the process with."""
    return exit.code if isinstance(exit.code, int) else int(exit.code is not None)
