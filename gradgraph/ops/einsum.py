"""``np.einsum``: one op whose derivative with respect to each operand is an einsum of the
cotangent with the other operands.

The tracer hands over a normalised, explicit spec (``"ij,jk->ik"``: no ``...``, no implicit
output, no broadcasting of size-1 dimensions, which it makes explicit with ``broadcast_to``), so
the rules below only ever see plain labels. Batch axes (``nb``) get fresh letters in front.
"""

from __future__ import annotations

import string

import numpy as np

from .registry import Op, abstract_eval, register


def parse(spec: str) -> tuple[list[str], str]:
    ins, out = spec.split("->")
    return ins.split(","), out


def fresh_letters(used: str, k: int) -> str:
    free = [c for c in string.ascii_letters if c not in used]
    if len(free) < k:
        raise ValueError("einsum: not enough free letters for the batch axes")
    return "".join(free[:k])


def _sizes(B, ins, args) -> dict:
    sizes = {}
    for labels, a in zip(ins, args):
        for c, n in zip(labels, B.shape(a)):
            sizes[c] = n
    return sizes


def _einsum(B, ins, out, args):
    if len(args) == 1 and ins[0] == out:
        return args[0]
    return B.einsum(*args, spec=",".join(ins) + "->" + out)


def _einsum_vjp(B, ct, i, a, o, nb, spec):
    ins, out = parse(spec)
    bs = fresh_letters(spec, nb)
    mine = ins[i]
    uniq = "".join(dict.fromkeys(mine))  # my labels, each once, in order
    others = [(lab, x) for k, (lab, x) in enumerate(zip(ins, a)) if k != i]
    avail = set(out).union(*(set(lab) for lab, _ in others))
    present = "".join(c for c in uniq if c in avail)
    g = _einsum(B, [bs + out] + [lab for lab, _ in others], bs + present,
                [ct] + [x for _, x in others])
    sizes = _sizes(B, ins, a)
    batch = B.shape(ct)[:nb]
    if present != uniq:  # labels summed away inside my operand alone: broadcast back
        g = B.reshape(g, shape=batch + tuple(sizes[c] if c in present else 1 for c in uniq))
        g = B.broadcast_to(g, shape=batch + tuple(sizes[c] for c in uniq))
    if uniq != mine:  # a label repeated in my operand ("ii"): put g on the diagonal
        used = spec + bs
        labels, eyes, eye_specs = [], [], []
        seen = set()
        for c in mine:
            if c not in seen:
                seen.add(c)
                labels.append(c)
                continue
            new = fresh_letters(used, 1)
            used += new
            labels.append(new)
            eye_specs.append(c + new)
            eyes.append(B.const(np.eye(sizes[c], dtype=B.dtype(ct))))
        g = _einsum(B, [bs + uniq] + eye_specs, bs + "".join(labels), [g] + eyes)
    return g


def _einsum_jvp(B, t, a, o, nb, spec):
    ins, out = parse(spec)
    bs = fresh_letters(spec, nb)
    terms = []
    for k, tk in enumerate(t):
        if tk is None:
            continue
        labs = [bs + lab if j == k else lab for j, lab in enumerate(ins)]
        args = [tk if j == k else x for j, x in enumerate(a)]
        terms.append(_einsum(B, labs, bs + out, args))
    r = terms[0]
    for x in terms[1:]:
        r = B.add(r, x)
    return r


def _impl(*xs, spec):
    return np.einsum(spec, *xs, optimize=len(xs) > 2)


def _emit(a, at):
    opt = ", optimize=True" if len(a) > 2 else ""
    return f"np.einsum({at['spec']!r}, {', '.join(a)}{opt})"


def _sympy(*xs, spec):
    return np.einsum(spec, *(np.asarray(x, dtype=object) for x in xs))


register(Op(
    name="einsum", impl=_impl, emit=_emit, kind="other", shape=abstract_eval(_impl),
    vjp=_einsum_vjp, jvp=_einsum_jvp, sympy=_sympy, numpy=("np.einsum",),
    doc="explicit and implicit subscripts, '...', any number of operands; the derivative "
        "of each operand is an einsum of the cotangent with the others (repeated labels "
        "such as 'ii->' included)"))
