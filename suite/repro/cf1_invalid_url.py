"""CF1: a result_backend URL with one fault (an unknown scheme, a port that is
not a number, a directory that does not exist, a string that is no URL),
given to the class or through Celery's loader, raises ImproperlyConfigured
naming the bad part, at construction or first use; never a bare ValueError,
TypeError or driver error, and it is never silently accepted."""

import re
from urllib.parse import urlsplit, urlunsplit

from celery import Celery
from celery.app.backends import by_url

CLAUSE = "CF1"
TESTS = ("test_invalid_url_raises_improperly_configured",)

#: fault: the part the error must name
NAMED_PART = {"unknown-scheme": r"nosuchscheme|scheme|dialect|transport|protocol",
              "bad-port": r"\bport\b|notaport",
              "missing-directory": r"path|director|no such file|not exist",
              "not-a-url": r"\burl\b|scheme"}


def bad_url(url, fault):
    """``url`` with exactly one fault, or None where it does not apply."""
    split = urlsplit(url)
    networked = bool(split.hostname) and split.scheme != "file"
    if fault == "not-a-url":
        return "this is not a url"
    if fault == "unknown-scheme":
        return "nosuchscheme" + url[len(split.scheme):]
    if fault == "bad-port" and networked:
        userinfo = split.netloc.rpartition("@")[0]
        return urlunsplit(split._replace(
            netloc=(userinfo + "@" if userinfo else "") + f"{split.hostname}:notaport"))
    if fault == "missing-directory" and not networked and split.path:
        return url.split("?", 1)[0].split("#", 1)[0].rstrip("/") + "/no/such/directory"
    return None


def reproduce(make_backend):
    from _run import first_error, not_improperly_configured

    good = make_backend()
    cls, app = type(good), good.app
    working_url = by_url(app.conf.result_backend, app.loader)[1]

    def loaded(url):
        loader_app = Celery("repro-loader", set_as_current=False)
        loader_app.conf.update(dict(app.conf.items()),
                               result_backend=f"{cls.__module__}:{cls.__qualname__}+{url}")
        return loader_app.backend

    for fault, part in NAMED_PART.items():
        url = bad_url(working_url, fault)
        if url is None:
            continue
        routes = {"class": lambda: cls(app=app, url=url)}
        if fault != "not-a-url":  # the loader reads a value without :// as a backend name
            routes["loader"] = lambda: loaded(url)
        for route, build in routes.items():
            shown = re.sub(r"//[^/@]*@", "//***@", url)  # no credentials in the report
            problem = not_improperly_configured(
                first_error(build), f"a URL with {fault} ({shown!r}) given via the {route}",
                part)
            if problem:
                return problem
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
