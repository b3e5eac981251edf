"""`python -m smosite.procfile start -f Procfile.dev …`: honcho's own command line, with an
output that cannot stop the shutdown.

honcho writes "SIGINT received" from its signal handler before it tells the processes to stop.
When its output is a pipe whose reader the same Ctrl-C has just ended (`make run | tee run.log`,
a log shipper restarting), that write raises BrokenPipeError, honcho never sends SIGTERM, and
web, worker and beat — each in a session of its own — keep running. Here a write that fails
is dropped instead, so the shutdown always goes on."""

import io
import sys

from honcho.command import main as honcho_main


class ForgivingOutput(io.TextIOBase):
    """A text stream that stops writing (silently) once its destination is gone."""

    def __init__(self, stream):
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
                self.gone = True  # ValueError: the stream was closed
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.gone = True

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    @property
    def encoding(self):
        return self.stream.encoding


def main(argv: list[str] | None = None) -> None:
    sys.stdout = ForgivingOutput(sys.stdout)
    sys.stderr = ForgivingOutput(sys.stderr)
    honcho_main(argv)


if __name__ == "__main__":
    main()
