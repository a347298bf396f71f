"""Loaded by Python at startup because the obs shim put this folder on
PYTHONPATH: arranges for obs's asyncio context helper (_obs_context) to be
installed when, and only if, the app imports asyncio, then runs the
sitecustomize this one hides, if any. Fails open: any error here leaves
the app as it would be without obs."""
import sys


def _obs_setup():
    import importlib.abc
    import importlib.util

    target = "asyncio.selector_events"

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target_=None):
            if name != target:
                return None
            sys.meta_path.remove(self)  # once, and not for the lookup below
            spec = importlib.util.find_spec(name)
            if spec is None or spec.loader is None:
                return spec
            inner = spec.loader

            class _Loader(importlib.abc.Loader):
                def create_module(self, spec_):
                    return inner.create_module(spec_)

                def exec_module(self, module):
                    inner.exec_module(module)
                    try:
                        import _obs_context

                        _obs_context.install(module)
                    except Exception:
                        pass

            spec.loader = _Loader()
            return spec

    sys.meta_path.insert(0, _Finder())


def _obs_chain():
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    for d in sys.path:
        try:
            if os.path.abspath(d or ".") == here:
                continue
            p = os.path.join(d or ".", "sitecustomize.py")
            if os.path.isfile(p):
                with open(p) as f:
                    code = compile(f.read(), p, "exec")
                exec(code, {"__name__": "sitecustomize", "__file__": p})
                return
        except Exception:
            return


try:
    if "asyncio.selector_events" not in sys.modules:
        _obs_setup()
except Exception:
    pass
_obs_chain()
