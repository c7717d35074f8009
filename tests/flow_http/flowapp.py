"""A Nagare 0.5-style application whose features are flows: `comp.call()` in `Task.go` and in actions.

The fixture of the flow tests served for real (tests/flow_http): two FastCGI servers sharing
memcached play it in turn, and a deploy test edits a copy of this file between two starts. Every
page shows the four flows side by side, and the pid of the process that rendered it:

- `GuessGame`: the secret is drawn in `go` from `random.Random(seed)` (the seed is the RESTful
  URL `/flowapp/<seed>`, so the test knows the secret); the attempts are a local of `go`;
- `Quiz`: two questions asked in one statement, then a `for` loop over the questions;
- `CheatProofGame`: the same game, its attempts counted by a `state.stateless` object, which
  going back does not roll back ("you can't cheat");
- `Basket`: a plain action that does `if comp.call(util.Confirm('Delete ...?', cancel='Cancel')):`.

`App.on_flow_broken` logs a line of its own ("flowapp: flow broken ...") before the default
warning, so the deploy test can see it was called.
"""

import os
import random

from nagare import component, presentation, state, util, wsgi

QUESTIONS = (('Capital of France?', 'Paris'), ('Two plus two?', '4'), ('Colour of the sky?', 'blue'))


class GuessGame(component.Task):
    """Guess a number between 1 and 100 drawn from `seed`."""

    def __init__(self, seed=None):
        self.seed = seed

    def go(self, comp):
        secret = random.Random(self.seed).randint(1, 100)
        attempts = 0
        hint = 'I chose a number between 1 and 100.'
        while True:
            text = comp.call(util.Ask('%s Attempt %d: your guess?' % (hint, attempts + 1), ok='Guess'))
            attempts += 1
            guess = int(text) if text.strip().isdigit() else 0
            if guess == secret:
                break
            hint = '%d is too %s.' % (guess, 'high' if guess > secret else 'low')
        comp.call(util.Confirm('Found %d in %d attempts' % (secret, attempts), ok='Play again'))


class Quiz(component.Task):
    """Two names asked in one statement, then one question per turn of a `for` loop."""

    def go(self, comp):
        first, last = comp.call(util.Ask('First name?')), comp.call(util.Ask('Last name?'))
        score = 0
        for number, (question, expected) in enumerate(QUESTIONS, 1):
            answer = comp.call(util.Ask('Question %d: %s' % (number, question)))
            if answer.strip().lower() == expected.lower():
                score += 1
        comp.call(util.Confirm('%s %s scored %d/%d' % (first, last, score, len(QUESTIONS)), ok='Again'))


class Attempts(object):
    """A counter shared by all the states of a session (marked stateless): going back keeps it."""

    def __init__(self):
        self.count = 0


class CheatProofGame(component.Task):
    """The guessing game whose attempts are counted by a stateless object: you can't cheat."""

    def __init__(self, seed=None):
        self.seed = seed
        self.attempts = state.stateless(Attempts())

    def go(self, comp):
        secret = random.Random(self.seed).randint(1, 100)
        self.attempts.count = 0
        while True:
            text = comp.call(util.Ask('%d attempts so far. Your guess?' % self.attempts.count, ok='Guess'))
            self.attempts.count += 1
            if text.strip() == str(secret):
                break
        comp.call(util.Confirm('Found in %d attempts, no cheating' % self.attempts.count, ok='Play again'))


class Basket(object):
    def __init__(self):
        self.items = ['apple', 'pear', 'plum']

    def delete(self, comp, item):
        if comp.call(util.Confirm('Delete %s?' % item, cancel='Cancel')):
            self.items.remove(item)


@presentation.render_for(Basket)
def render_basket(self, h, comp, *args):
    with h.ul(id='items'):
        for item in self.items:
            h << h.li(item, ' ', h.a('delete', id='delete-' + item).action(self.delete, comp, item))
    return h.root


class Root(object):
    def __init__(self, seed=None):
        self.game = component.Component(GuessGame(seed))
        self.quiz = component.Component(Quiz())
        self.cheat = component.Component(CheatProofGame(seed))
        self.basket = component.Component(Basket())


@presentation.render_for(Root)
def render_root(self, h, comp, *args):
    h.head << h.head.title('Flows')
    h << h.span(str(os.getpid()), id='pid')
    h << h.div(self.game, id='game')
    h << h.div(self.quiz, id='quiz')
    h << h.div(self.cheat, id='cheat')
    h << h.div(self.basket, id='basket')
    return h.root


@presentation.init_for(Root, "len(url) == 1 and url[0].isdigit()")
def init_seed(self, url, comp, http_method, request):
    self.__init__(int(url[0]))


class App(wsgi.WSGIApp):
    def on_flow_broken(self, comp, continuation, error):
        self.log.warning('flowapp: flow broken in %s (%s)', type(comp.o).__name__, type(error).__name__)
        return super(App, self).on_flow_broken(comp, continuation, error)


app = App(Root)
