"""Command-line interface (placeholder until the CLI lands)."""


def main() -> int:  # pragma: no cover - replaced by the CLI
    return 0
