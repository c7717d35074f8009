"""Two games of the demo written as `component.Task`s: the flow of each is plain sequential code.

- `GuessGame`: guess a number between 1 and 100, with "too high / too low" hints.
- `TicTacToe`: two players, a board whose cells answer their index, win and draw detection.

Every `comp.call()` shows a component in the game's place and returns its answer on the request
that answers. The suspended game is kept in each page's state, so the back button forks it: go
back to an earlier page and play differently, and both histories stay playable. `GamePanel` shows
a game under a line of text that says so.
"""

from __future__ import annotations

import random
from functools import partial
from typing import TYPE_CHECKING

from nagare import component, presentation, util

if TYPE_CHECKING:
    from nagare.namespaces import xhtml5
    from nagare.types import Child

__all__ = ["GuessGame", "TicTacToe", "Board", "GamePanel", "FORK_NOTE"]

#: The line of text shown above each game.
FORK_NOTE = (
    "The back button forks the game: go back to an earlier page and play another move, "
    "both histories stay valid."
)


class GuessGame(component.Task):
    """Guess the number chosen at random between 1 and 100; the attempts are counted."""

    def go(self, comp: component.Component) -> object:
        secret = random.randint(1, 100)
        attempts = 0
        hint = "I chose a number between 1 and 100."
        while True:
            answer = comp.call(util.Ask(f"{hint} Attempt {attempts + 1}: your guess?", ok="Guess"))
            text = (answer or "").strip()
            if not text.isdigit():
                hint = f"{text!r} is not a number."
                continue
            guess = int(text)
            attempts += 1
            if guess == secret:
                break
            hint = f"{guess} is too {'high' if guess > secret else 'low'} ({attempts} attempt{'s' if attempts > 1 else ''})."
        comp.call(util.Confirm(f"Found {secret} in {attempts} attempt{'s' if attempts > 1 else ''}", ok="Play again"))
        return secret


#: The three cells of each row, column and diagonal.
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
MARKS = ("X", "O")


class Board:
    """A tic-tac-toe board: nine cells, each None or the index of the player who took it."""

    def __init__(self, players: tuple[str, str]) -> None:
        self.players = players
        self.cells: list[int | None] = [None] * 9
        self.turn = 0  # the index of the player to play

    def play(self, cell: int) -> bool:
        """The player to play takes `cell`, and the turn passes; False (nothing done) if it is taken."""
        if self.cells[cell] is not None:
            return False
        self.cells[cell] = self.turn
        self.turn = 1 - self.turn
        return True

    def winner(self) -> int | None:
        """The index of the player who has three in a line, or None."""
        for a, b, c in LINES:
            if self.cells[a] is not None and self.cells[a] == self.cells[b] == self.cells[c]:
                return self.cells[a]
        return None

    def full(self) -> bool:
        return all(cell is not None for cell in self.cells)


@presentation.render_for(Board)
def render_board(self: Board, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="board"):
        h << h.p(f"{self.players[self.turn]} ({MARKS[self.turn]}) plays", id="turn")
        with h.table:
            for row in range(3):
                with h.tr:
                    for cell in range(row * 3, row * 3 + 3):
                        owner = self.cells[cell]
                        with h.td:
                            if owner is None:
                                # the link answers the cell's index: it resumes the game's comp.call(board)
                                h << h.a("\u00a0", id=f"cell-{cell}").action(partial(comp.answer, cell))
                            else:
                                h << h.span(MARKS[owner], id=f"cell-{cell}", class_="taken")
    return h.root


class TicTacToe(component.Task):
    """Two players take turns on a board until one has three in a line, or the board is full."""

    def go(self, comp: component.Component) -> object:
        players = (comp.call(util.Ask('Player 1 name?')), comp.call(util.Ask('Player 2 name?')))
        names = (players[0] or "Player 1", players[1] or "Player 2")
        board = Board(names)
        winner = None
        while winner is None and not board.full():
            cell = comp.call(board)
            if board.play(cell):
                winner = board.winner()
        grid = " / ".join("".join("." if c is None else MARKS[c] for c in board.cells[r : r + 3]) for r in (0, 3, 6))
        if winner is None:
            result = f"Draw between {names[0]} and {names[1]} ({grid})"
        else:
            result = f"{names[winner]} ({MARKS[winner]}) wins ({grid})"
        comp.call(util.Confirm(result, ok="Play again"))
        return winner


class GamePanel:
    """A game in a component of its own, under the line of text `FORK_NOTE`."""

    def __init__(self, game: component.Task) -> None:
        self.game = component.Component(game)


@presentation.render_for(GamePanel)
def render_game_panel(self: GamePanel, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="game"):
        h << h.p(FORK_NOTE, class_="fork-note")
        h << self.game
    return h.root
