"""`python -m tensordiff ARGS`: the `tensordiff` command (find_binary()) with the same arguments,
in place of this process, so its output and exit status are the command's own."""
import os
import sys

from .compare import TensordiffError, find_binary


def main() -> None:
    try:
        binary = find_binary()
    except TensordiffError as e:
        print(f"tensordiff: {e}", file=sys.stderr)
        sys.exit(2)  # the command's status for an error
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
