"""Child processes for integration tests: a worker or a web server whose output is collected."""

import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = PROJECT_DIR / ".venv" / "bin"


class Process:
    """A child process whose combined output is collected line by line in the background."""

    def __init__(self, args, env, cwd=PROJECT_DIR):
        self.args = args
        self.lines = []
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def check_running(self):
        if self.popen.poll() is not None:
            raise AssertionError(f"{self.args[0]} exited with {self.popen.returncode}:\n{self.output}")

    def wait_for_output(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            self.check_running()
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear in {timeout} s:\n{self.output}")

    def stop(self, timeout=15):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._reader.join(5)
        print(f"--- output of {' '.join(self.args)} ---\n{self.output}", file=sys.stderr)
