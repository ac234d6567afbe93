"""A WSGI hello world, a factory, and an app that reports its process id."""

import os


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello world!\n"]


def create_app(greeting="factory"):
    def made(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"Hello from the {greeting}\n".encode()]

    return made


def pid(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    flags = f"{environ['wsgi.multiprocess']}"
    return [f"{os.getpid()} {flags}".encode()]
