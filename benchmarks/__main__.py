"""`python -m benchmarks bench ...`: the bench verb without the rest of the glasslm command (for GPU machines
that have torch and transformers but not the app's other dependencies)."""
import argparse
import sys

from . import cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    from engine import EngineError

    try:
        return args.handler(args)
    except EngineError as err:
        print(f"python -m benchmarks: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
