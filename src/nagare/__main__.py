"""`python -m nagare <command>`: the same as `nagare-admin <command>`."""

from nagare.admin.main import run

run()
