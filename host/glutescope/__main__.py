from glutescope.cli import run

run()
