"""Errors of operations jobs; their message is what the operator reads in the alert."""


class OperationsError(Exception):
    """A backup, check or restore that cannot go on; never a partial success."""


class BackupNotFoundError(OperationsError):
    pass


class VerificationError(OperationsError):
    """The restored copy differs from its manifest; ``differences`` says how."""

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        shown = "; ".join(differences[:10])
        more = f" (and {len(differences) - 10} more)" if len(differences) > 10 else ""
        super().__init__(f"{len(differences)} difference(s): {shown}{more}")
