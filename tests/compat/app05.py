"""An application written as for Nagare 0.5.1, with only the mechanical Python 3 edits.

It is the acceptance fixture of the 0.5 API (docs/compatibility.md): what it uses, it uses the
way 0.5 applications do — positional action arguments on every kind of tag, a subclassed
`wsgi.WSGIApp` reading its own config section, RESTful links and `init_for`, `HTTPNotFound`,
deferred validators, radios, an empty upload, `comp.answer` as an action, `nagare.log`, and
`comp.call` — in a `Task` and from a plain action — when `has_continuation` says it can.
"""

from nagare import component, editor, log, presentation, security, util, validator, var, wsgi
from nagare.continuation import has_continuation
from nagare.security import common, form_auth


class Calculator(object):
    def __init__(self):
        self.display = ''

    def digit(self, d):
        log.info('digit %d', d)
        self.display += str(d)

    def clear(self):
        self.display = ''

    def clear_and_tell(self, comp):
        cleared = self.display
        self.display = ''
        comp.call(util.Confirm('%s cleared' % cleared))
        log.info('cleared %s acknowledged', cleared)


@presentation.render_for(Calculator)
def render_calculator(self, h, comp, *args):
    h << h.span(self.display, id='display')
    for d in (1, 2, 3):
        h << h.a(str(d), id='digit%d' % d).action(self.digit, d)
    with h.form(id='keys'):
        h << h.input(type='submit', value='7', id='seven').action(self.digit, 7)
        h << h.button('8', id='eight').action(self.digit, d=8)
        h << h.input(type='submit', value='C', id='clear').action(self.clear)
        if has_continuation:
            h << h.input(type='submit', value='CT', id='clear-tell').action(self.clear_and_tell, comp)
    return h.root


class Wizard(component.Task):
    def go(self, comp):
        name = comp.call(util.Ask('Your name?'))
        colours = []
        for question in ('First colour?', 'Second colour?'):
            colours.append(comp.call(util.Ask(question)))
        comp.call(util.Confirm('%s likes %s' % (name, ' and '.join(colours))))


class Profile(object):
    def __init__(self):
        self.age = editor.Property('')
        self.age.validate(validator.to_int().lesser_than(50).greater_than(10))
        self.color = None
        self.notes = ''
        self.choice = None
        self.upload = None
        self.subscribed = False
        self.trace = []

    def set_color(self, color):
        self.color = color

    def set_notes(self, prefix, text):
        self.notes = prefix + text

    def choose(self, what, value):
        self.choice = '%s=%s' % (what, value)

    def set_file(self, f):
        self.upload = 'empty' if isinstance(f, str) else f.filename

    def subscribe(self, value):
        self.subscribed = bool(value)

    def step(self, name):
        self.trace.append(name)


@presentation.render_for(Profile)
def render_profile(self, h, comp, *args):
    h << h.span(self.age.value if self.age.error is None else '', id='age-value')
    h << h.span(self.age.error or '', id='age-error')
    h << h.span(self.color or '', id='color')
    h << h.span(self.notes, id='notes-value')
    h << h.span(self.choice or '', id='choice-value')
    h << h.span(self.upload or '', id='upload')
    h << h.span(','.join(self.trace), id='trace')
    with h.form(id='profile').pre_action(self.step, 'pre').post_action(self.step, 'post'):
        h << h.input(value=self.age.input, id='age').action(self.age)
        for color in ('red', 'green'):
            h << h.input(type='radio', name='color', id=color).action(self.set_color, color)
        h << h.textarea(self.notes, id='notes').action(self.set_notes, 'N:')
        with h.select(id='choice').action(self.choose, 'size'):
            h << h.option('small', value='S')
            h << h.option('large', value='L')
        h << h.input(type='checkbox', id='subscribe').action(self.subscribe)
        h << h.input(type='file', id='file').action(self.set_file)
        h << h.input(type='submit', value='Save', id='save').action(self.step, 'save')
    return h.root


class Question(object):
    """Answers through `comp.answer` bound to its argument."""


@presentation.render_for(Question)
def render_question(self, h, comp, *args):
    h << h.a('yes', id='yes').action(comp.answer, 'yes')
    h << h.a('no', id='no').action(comp.answer, 'no')
    return h.root


class Rules(common.Rules):
    pass


@common.when(Rules.has_permission, (common.User, str, object))
def admin_may_see_the_secret(rules, user, perm, subject):
    return perm == 'see_secret' and user.id == 'admin'


class SecurityManager(form_auth.Authentication, Rules):
    def get_password(self, username):
        return {'admin': 'secret', 'guest': 'guest'}.get(username)


class Secret(object):
    def __init__(self):
        self.shown = False

    @security.permissions('see_secret')
    def show(self):
        self.shown = True


@presentation.render_for(Secret)
def render_secret(self, h, comp, *args):
    user = security.get_user()
    h << h.span(user.id if user is not None else 'anonymous', id='user')
    h << h.span('the secret' if self.shown else '', id='secret')
    h << h.a('Show the secret', id='show').action(self.show)
    h << h.a('Count', id='count').action(self.count, permissions='see_secret')
    if user is None:
        with h.form(id='login'):
            h << h.input(name='__ac_name', id='name') << h.input(type='password', name='__ac_password', id='password')
            h << h.input(type='submit', value='Log in', id='log-in')
    else:
        h << h.a('Log out', id='log-out').action(lambda: security.get_manager().logout())
    return h.root


def count(self):
    self.shown = True


Secret.count = count


class Root(object):
    def __init__(self):
        self.page = 'calc'
        self.content = component.Component(Calculator())
        self.question = component.Component(Question())
        self.question.on_answer(self.answered, 'question')
        self.answer = ''
        self.greeting = ''
        self.requests = var.Var(0)
        self.secret = component.Component(Secret())

    def select(self, page):
        self.page = page
        pages = {'profile': Profile, 'wizard': Wizard}
        self.content.becomes(pages.get(page, Calculator)())

    def answered(self, what, answer):
        self.answer = '%s: %s' % (what, answer)


@presentation.render_for(Root)
def render_root(self, h, comp, *args):
    h.head << h.head.title('Nagare 0.5 application')
    h << h.h1(self.greeting, id='greeting')
    with h.ul(id='menu'):
        h << h.li(h.a('Calculator', href='calc', id='menu-calc').action(self.select, 'calc'))
        h << h.li(h.a('Profile', href='profile', id='menu-profile').action(self.select, page='profile'))
        if has_continuation:
            h << h.li(h.a('Wizard', id='menu-wizard').action(self.select, 'wizard'))
        h << h.li(h.a('Help', href='help#top', id='help'))  # no action: a plain link
    h << h.p('continuations' if has_continuation else 'no continuations', id='continuations')
    h << h.div(self.content, id='content')
    h << h.div(self.question, id='question')
    h << h.span(self.answer, id='answer')
    h << h.div(self.secret, id='security')
    return h.root


@presentation.init_for(Root, "len(url) == 1 and url[0] in ('calc', 'profile')")
def init_page(self, url, comp, http_method, request):
    self.select(url[0])


@presentation.init_for(Root, "len(url) == 1 and url[0] not in ('calc', 'profile')")
def init_unknown(self, url, comp, http_method, request):
    raise presentation.HTTPNotFound()


class App(wsgi.WSGIApp):
    """Reads its own section of the application file, and greets with it."""

    def set_config(self, config_filename, conf, error):
        super(App, self).set_config(config_filename, conf, error)
        self.greeting = conf['myapp']['greeting']

    def start_request(self, root, request, response):
        super(App, self).start_request(root, request, response)
        root().greeting = self.greeting


app = App(Root)
app.security = SecurityManager(key='a key of the tests', secure=False)
