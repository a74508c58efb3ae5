"""``python -m archscore.cli`` runs the ``archscore`` command."""

from archscore.cli import run

run()
