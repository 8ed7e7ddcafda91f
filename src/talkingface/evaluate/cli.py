"""`talkingface eval`: placeholder until the evaluation stage lands."""

from __future__ import annotations

import argparse


def add_eval_command(commands: argparse._SubParsersAction) -> None:
    """Register the `eval` subcommand; its handler is stored as args.run."""
    parser = commands.add_parser("eval", help="measure a generated video (lip-sync, identity, liveliness)")
    parser.set_defaults(run=lambda args: 1)
