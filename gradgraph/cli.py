"""The ``gradgraph`` command (also ``python -m gradgraph``).

``gradgraph demo``
    the course notes' example, traced, differentiated, compiled, with both tables.
``gradgraph show FILE.py:FUNC --at "2.0, 5.0" [--grad | --hessian | --order N]
[--graph | --code | --dot | --table]``
    the graph listing (the default, with the result), the generated source, Graphviz DOT,
    or the notes' v-dot/v-bar tables of FUNC, or of its gradient/Hessian/n-th derivative.
``gradgraph verify FILE.py:FUNC --at ... [--hessian | --order N]``
    gg.verify's report (SymPy and finite differences); exit status 1 when it fails.

``--at`` takes Python literals: numbers and (nested) lists of numbers, read as float64
(``"[1, 2], 3.0"`` is an array [1., 2.] and 3.0). Errors in the user's file are shown as its
``file:line`` and its own traceback lines, without gradgraph's (``--traceback`` shows all).
A new subcommand is one function ``add(sub)`` that registers its parser with
``set_defaults(run=...)``, appended to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import os
import sys
import traceback

import numpy as np


class UsageError(Exception):
    """A bad command line (exit status 2)."""


class UserCodeError(Exception):
    """The user's file or function raised; ``str`` is the report to print (exit status 1)."""


def notes_example(x1, x2):
    """The course notes' example: y = ln(x1) + x1*x2 - sin(x2)."""
    return np.log(x1) + x1 * x2 - np.sin(x2)


# -- the user's file and arguments ------------------------------------------------------------


def _is_user_frame(filename: str) -> bool:
    from .errors import _is_internal

    return not _is_internal(filename) and "importlib" not in filename \
        and os.path.abspath(filename) != os.path.abspath(__file__)


def user_report(exc: BaseException) -> str:
    """The exception as the user should see it: the traceback lines that are in their code
    (none of gradgraph's or NumPy's), then ``Type: message``."""
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    frames = [fs for fs in traceback.extract_tb(exc.__traceback__)
              if _is_user_frame(fs.filename)]
    head = "Traceback (your code only; --traceback shows gradgraph's too):\n" if frames else ""
    body = "".join(traceback.format_list(frames))
    return head + body + f"{type(exc).__name__}: {exc}"


def load_target(spec: str):
    """``FILE.py:FUNC`` -> the function. The file is run as a module (not as ``__main__``,
    so its ``if __name__ == "__main__":`` block does not run), with its folder on sys.path;
    what it prints while loading goes to stderr, so --code and --dot output stays clean."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise UsageError(f"expected FILE.py:FUNC (a Python file and the name of a function "
                         f"in it, e.g. examples/notes_tables.py:f), got {spec!r}")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path} (from {spec!r}; expected FILE.py:FUNC)")
    folder = os.path.dirname(os.path.abspath(path))
    mod_name = "gradgraph_user_" + "".join(
        c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0])
    spec_ = importlib.util.spec_from_file_location(mod_name, path)
    if spec_ is None or spec_.loader is None:
        raise UsageError(f"{path} is not a Python file (expected FILE.py:FUNC)")
    mod = importlib.util.module_from_spec(spec_)
    sys.path.insert(0, folder)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec_.loader.exec_module(mod)
    except Exception as e:
        raise UserCodeError(f"error while loading {path}:\n{user_report(e)}") from e
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    fn = getattr(mod, name, None)
    if fn is None:
        defined = sorted(k for k, v in vars(mod).items() if callable(v) and not k.startswith(
            "_") and getattr(v, "__module__", None) == mod_name)
        raise UsageError(f"{path} has no function {name!r}; it defines: "
                         f"{', '.join(defined) or 'no functions'}")
    if not callable(fn):
        raise UsageError(f"{path}:{name} is not a function (it is {type(fn).__name__} "
                         f"{fn!r:.60})")
    return fn


def parse_at(text: str) -> tuple:
    """``--at`` text -> the arguments: numbers become floats, lists float64 arrays.

    >>> parse_at("2.0, 5.0")
    (2.0, 5.0)
    >>> parse_at("[1, 2], 3")
    (array([1., 2.]), 3.0)
    """
    try:
        vals = ast.literal_eval(f"({text},)")
    except (SyntaxError, ValueError):
        raise UsageError(f"--at {text!r}: expected numbers and lists of numbers separated "
                         'by commas, e.g. --at "2.0, 5.0" or --at "[1, 2], 3.0"') from None
    out = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, float, list, tuple)):
            raise UsageError(f"--at {text!r}: {v!r} is not a number or a list of numbers")
        try:
            out.append(float(v) if isinstance(v, (int, float)) else np.array(v, dtype=float))
        except (ValueError, TypeError):
            raise UsageError(f"--at {text!r}: {v!r} is not a (rectangular) list of "
                             "numbers") from None
    return tuple(out)


def _argnums(text, nargs: int):
    if text is None:
        return tuple(range(nargs))
    try:
        nums = tuple(int(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise UsageError(f"--argnums {text!r}: expected integers, e.g. 0 or 0,1") from None
    for k in nums:
        if not -nargs <= k < nargs:
            raise UsageError(f"--argnums {k} is out of range for {nargs} arguments")
    return tuple(k % nargs for k in nums)


def _arg_names(f, n):
    from .trace import arg_names_of

    return arg_names_of(f, n)


# -- building what to show --------------------------------------------------------------------


def _packed(f, args, nums):
    """``f`` as a function of one vector holding the arguments ``nums`` (for a Hessian over
    several arguments); the others are fixed at their values."""
    shapes = [np.shape(args[i]) for i in nums]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]

    def packed(v):
        full, k = list(args), 0
        for i, s, n in zip(nums, shapes, sizes):
            full[i] = v[k] if s == () else v[k:k + n].reshape(s)
            k += n
        return f(*full)

    return packed, np.concatenate([np.ravel(args[i]) for i in nums]).astype(float)


def _one_arg(f, args, k, names):
    def fixed(x):
        return f(*args[:k], x, *args[k + 1:])

    fixed.arg_names = lambda n: [names[k]]  # the generated code keeps the user's name
    fixed.__name__ = getattr(f, "__name__", "f")
    return fixed


def build(f, args, ns):
    """``(Function, its arguments, what it is)`` for the chosen derivative."""
    import gradgraph as gg

    nums = _argnums(ns.argnums, len(args))
    names = _arg_names(f, len(args))
    wrt = ", ".join(names[i] for i in nums)
    if ns.grad:
        argnums = nums[0] if len(nums) == 1 and ns.argnums is not None else nums
        return gg.grad(f, argnums=argnums), args, f"the gradient w.r.t. {wrt}"
    if ns.hessian:
        if len(nums) == 1:
            return gg.hessian(f, argnums=nums[0]), args, f"the Hessian w.r.t. {wrt}"
        packed, v = _packed(f, args, nums)
        return gg.hessian(packed), (v,), f"the Hessian w.r.t. ({wrt}) packed in one vector v"
    if ns.order is not None:
        if len(nums) != 1:
            raise UsageError("--order N differentiates a function of one argument: pick it "
                             "with --argnums K")
        k = nums[0]
        g = f if len(args) == 1 else _one_arg(f, args, k, names)
        return gg.derivative(g, order=ns.order), (args[k],), \
            f"derivative of order {ns.order} w.r.t. {names[k]}"
    return gg.compile(f), args, "the function"


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    a = np.asarray(v)
    return repr(a.item()) if a.ndim == 0 else np.array2string(a, precision=6)


# -- subcommands ------------------------------------------------------------------------------


def demo(out=None) -> int:
    """The course notes' example, end to end."""
    import gradgraph as gg

    out = out or sys.stdout
    p = lambda *a: print(*a, file=out)  # noqa: E731
    x = (2.0, 5.0)
    p("gradgraph demo: y = ln(x1) + x1*x2 - sin(x2) at (x1, x2) = (2, 5)\n")
    g = gg.trace(notes_example, *x)
    p("== the traced graph (one node per operation) ==")
    p(g)
    p("\n== generated NumPy code ==")
    f = gg.compile(notes_example)
    p(f.source(*x))
    p(f"value: y = {float(f(*x)):.3f}")
    p("\n== forward mode, as the notes' table: v_dot = dv/dx1 ==")
    p(gg.explain(notes_example, *x, mode="forward"))
    p("\n== reverse mode, as the notes' table: v_bar = dy/dv ==")
    p(gg.explain(notes_example, *x, mode="reverse"))
    ga = gg.adjoint(g)
    p("\n== the extended graph: gg.adjoint adds adjoint (v_bar) nodes to the same graph ==")
    p(ga)
    df = gg.grad(notes_example, argnums=(0, 1))
    p("\n== generated gradient code ==")
    p(df.source(*x))
    gx = df(*x)
    p(f"gradient: dy/dx1 = {float(gx[0]):.3f}, dy/dx2 = {float(gx[1]):.3f}")
    H = gg.hessian(lambda v: notes_example(v[0], v[1]))(np.array(x))
    p("\nHessian:")
    p(np.array2string(H, precision=3))
    p("\nnext: gradgraph show FILE.py:FUNC --at \"2.0, 5.0\" --grad --table  "
      "(or --graph, --code, --dot; gradgraph verify ...)")
    return 0


def add_demo(sub):
    p = sub.add_parser("demo", help="trace, differentiate and compile the course notes' "
                                    "example; print its graphs, code and tables")
    p.set_defaults(run=lambda ns: demo())


def _target_args(p, orders=True):
    p.add_argument("target", metavar="FILE.py:FUNC", help="a Python file and a function in it")
    p.add_argument("--at", required=True, metavar="ARGS",
                   help='the arguments, e.g. "2.0, 5.0" or "[1, 2], 3.0"')
    p.add_argument("--argnums", metavar="K[,K...]",
                   help="which arguments to differentiate (default: all)")
    mode = p.add_mutually_exclusive_group()
    if orders:
        mode.add_argument("--grad", action="store_true", help="the gradient")
    mode.add_argument("--hessian", action="store_true", help="the Hessian")
    mode.add_argument("--order", type=int, metavar="N", help="the N-th derivative")


def show(ns, out=None) -> int:
    import gradgraph as gg

    out = out or sys.stdout
    f = load_target(ns.target)
    args = parse_at(ns.at)
    if ns.order is not None and ns.order < 0:
        raise UsageError("--order N needs N >= 0")
    if ns.table:
        if ns.hessian or ns.order is not None:
            raise UsageError("--table shows first derivatives: use it alone (forward and "
                             "reverse tables) or with --grad (the reverse table)")
        nums = _argnums(ns.argnums, len(args))
        with _user_errors(ns.target):
            if not ns.grad:
                print(gg.explain(f, *args, mode="forward", wrt=nums[0]), file=out)
                print(file=out)
            print(gg.explain(f, *args, mode="reverse"), file=out)
        return 0
    fn, fargs, what = build(f, args, ns)
    with _user_errors(ns.target):
        if ns.code:
            print(fn.source(*fargs), end="", file=out)
        elif ns.dot:
            print(fn.graph(*fargs).to_dot(), file=out)
        else:
            g = fn.graph(*fargs)
            result = fn(*fargs)
            print(f"# {ns.target}: {what} at {ns.at}", file=out)
            print(g, file=out)
            if not ns.graph:
                print(f"\nresult: {_fmt(result)}", file=out)
    return 0


def add_show(sub):
    p = sub.add_parser("show", help="the graph, generated code, DOT or tables of a function "
                                    "or of its derivatives")
    _target_args(p)
    view = p.add_mutually_exclusive_group()
    view.add_argument("--graph", action="store_true", help="the graph listing only")
    view.add_argument("--code", action="store_true", help="the generated NumPy source")
    view.add_argument("--dot", action="store_true",
                      help="Graphviz DOT (render with: ... --dot | dot -Tpng -o graph.png)")
    view.add_argument("--table", action="store_true",
                      help="the notes' evaluation tables (v_dot forward, v_bar reverse)")
    p.set_defaults(run=show)


def verify(ns, out=None) -> int:
    import gradgraph as gg

    out = out or sys.stdout
    f = load_target(ns.target)
    args = parse_at(ns.at)
    nums = _argnums(ns.argnums, len(args))
    order = 2 if ns.hessian else (ns.order if ns.order is not None else 1)
    with _user_errors(ns.target):
        report = gg.verify(f, *args, argnums=nums[0] if len(nums) == 1 else nums, order=order)
    print(report, file=out)
    return 0 if report else 1


def add_verify(sub):
    p = sub.add_parser("verify", help="check the generated derivative against SymPy and "
                                      "finite differences (exit status 1 when it fails)")
    _target_args(p, orders=False)
    p.set_defaults(run=verify)


def add_sizes(sub):
    from .rewrite.sizes import add_parser  # gradgraph sizes (issue 6)

    add_parser(sub)


SUBCOMMANDS = [add_demo, add_show, add_verify, add_sizes]  # append to add a subcommand


@contextlib.contextmanager
def _user_errors(target: str):
    """Exceptions raised while tracing or running the user's function, as UserCodeError."""
    try:
        yield
    except (UsageError, UserCodeError, BrokenPipeError):
        raise
    except Exception as e:
        raise UserCodeError(f"error in {target}:\n{user_report(e)}") from e


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradgraph", description="Trace, differentiate and compile NumPy functions; "
        "look at their graphs, generated code and the notes' tables.",
        epilog='example: gradgraph show examples/notes_tables.py:f --at "2.0, 5.0" --grad')
    parser.add_argument("--traceback", action="store_true",
                        help="on errors, show the full Python traceback")
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return ns.run(ns)
    except UsageError as e:
        parser.exit(2, f"gradgraph {ns.cmd}: error: {e}\n")
    except UserCodeError as e:
        if ns.traceback and e.__cause__ is not None:
            traceback.print_exception(e.__cause__)
        else:
            print(f"gradgraph {ns.cmd}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `gradgraph show ... | head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
