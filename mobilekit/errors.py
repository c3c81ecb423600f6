"""The one error tree. Every failure a user can cause or meet is a MobilekitError with a message
that names what is wrong and what to do; the CLI turns it into one line and an exit code."""
from __future__ import annotations


class MobilekitError(Exception):
    """Root of every error mobilekit raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(MobilekitError):
    """An option or argument that cannot work (bad value, bad combination)."""

    exit_code = 2


class ModelError(MobilekitError):
    """A model file that is missing, unreadable, or not a model."""


class ConversionError(MobilekitError):
    """TFLite conversion failed or was refused."""


class CalibrationError(ConversionError):
    """The representative dataset cannot calibrate this model."""


class OptimizationError(MobilekitError):
    """A TF-MOT step (pruning, clustering, QAT, distillation) failed or was refused."""


class OptimizationArgumentError(OptimizationError, UsageError):
    """An optimization option with a value or combination that cannot work: exit 2 like any
    other bad option, and still an OptimizationError for callers that catch the stage's errors."""


class DataError(MobilekitError):
    """A dataset that cannot be read or does not fit the model."""


class ProtocolError(MobilekitError):
    """A bench request or result that does not follow the schema."""


class BenchError(MobilekitError):
    """A benchmark run that failed."""


class DeviceError(MobilekitError):
    """Anything about a phone: state, connection, transport."""

    def __init__(self, message: str, *, serial: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.serial = serial


class AdbCommandError(DeviceError):
    """A command on the device that failed; carries its exit status and output."""

    def __init__(self, cmd: str, returncode: int | None, output: str, *, serial: str | None = None):
        super().__init__(f"command failed on device (exit {returncode}): {cmd}: {output.strip()[:500]}",
                         serial=serial)
        self.cmd = cmd
        self.returncode = returncode
        self.output = output


class ApkInstallError(DeviceError):
    """`pm install` failed; ``reason`` is the parsed INSTALL_FAILED_... code."""

    def __init__(self, reason: str, output: str = "", *, serial: str | None = None):
        super().__init__(f"app install failed: {reason}", serial=serial)
        self.reason = reason
        self.output = output


class ReportError(MobilekitError):
    """Results that cannot be reported or compared."""


class BudgetExceeded(MobilekitError):
    """A `compare --budget` gate that failed: exit 3, distinct from errors, for CI."""

    exit_code = 3
