"""`python -m benchmarks bench ...`: the bench verb without the rest of the glasslm command (for GPU machines
that have torch and transformers but not the app's other dependencies)."""
import argparse
import sys

from . import cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
